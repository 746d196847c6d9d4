#!/bin/sh
# Builds the image of the checked-out commit, pushes it to the registry and rolls it out to the web hosts one
# at a time, waiting for each to answer its health check before moving on. Used for releases (main) and for
# rollbacks (a checked-out stable-* tag) alike: it deploys whatever HEAD is.
set -eu

REGISTRY=${REGISTRY:-registry.example.com/shop}
HOSTS=${DEPLOY_HOSTS:-"web1.shop.internal web2.shop.internal"}
rev=$(git rev-parse --short HEAD)
image="$REGISTRY:$rev"

if [ -n "$(git status --porcelain)" ]; then
    echo "refusing to deploy: the working tree has uncommitted changes" >&2
    exit 1
fi

echo "==> building $image ($(git describe --tags --always))"
docker build --pull -t "$image" .
docker push "$image"

for host in $HOSTS; do
    echo "==> $host: starting $rev"
    ssh "deploy@$host" "cd /srv/shop && SHOP_IMAGE=$image docker compose up -d --no-deps web"
    tries=0
    until ssh "deploy@$host" "curl -fsS --max-time 2 http://127.0.0.1:3000/api/health" >/dev/null; do
        tries=$((tries + 1))
        if [ "$tries" -ge 30 ]; then
            echo "$host did not become healthy after 60 s" >&2
            exit 1
        fi
        sleep 2
    done
    echo "==> $host: healthy"
done
echo "deployed $rev to $(echo "$HOSTS" | wc -w) host(s)"
