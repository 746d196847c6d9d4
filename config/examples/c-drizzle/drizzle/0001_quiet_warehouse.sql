ALTER TABLE "products" ADD COLUMN "archived_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "stock_levels" ADD COLUMN "reserved" integer DEFAULT 0 NOT NULL;
