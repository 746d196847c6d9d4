#!/bin/sh
# Deploys the shop to the app servers: builds a release tarball from the checked-out commit, unpacks it next to
# the previous releases, points the `current` symlink at it and restarts the service one host at a time.
#   ./scripts/deploy.sh             deploy HEAD
#   ./scripts/deploy.sh --rollback  point `current` back at the previous release and restart
set -eu

HOSTS=${DEPLOY_HOSTS:-"app1.shop.internal app2.shop.internal"}
APP_DIR=${APP_DIR:-/srv/shop}
SERVICE=${SERVICE:-shop.service}

restart() {
    host=$1
    echo "==> $host: restarting $SERVICE"
    ssh "deploy@$host" "sudo systemctl restart $SERVICE && systemctl is-active --quiet $SERVICE"
}

if [ "${1:-}" = "--rollback" ]; then
    for host in $HOSTS; do
        echo "==> $host: switching back to the previous release"
        ssh "deploy@$host" "cd $APP_DIR/releases && prev=\$(ls -1 | sort | tail -n 2 | head -n 1) \
            && ln -sfn $APP_DIR/releases/\$prev $APP_DIR/current && echo \"current -> \$prev\""
        restart "$host"
    done
    echo "rollback finished"
    exit 0
fi

release=$(date -u +%Y%m%d%H%M%S)-$(git rev-parse --short HEAD)
echo "==> building release $release"
npm ci --no-audit --no-fund
npm run build
tar -czf "/tmp/shop-$release.tar.gz" dist package.json package-lock.json node_modules

for host in $HOSTS; do
    echo "==> $host: uploading $release"
    scp -q "/tmp/shop-$release.tar.gz" "deploy@$host:/tmp/"
    ssh "deploy@$host" "mkdir -p $APP_DIR/releases/$release \
        && tar -xzf /tmp/shop-$release.tar.gz -C $APP_DIR/releases/$release \
        && ln -sfn $APP_DIR/releases/$release $APP_DIR/current \
        && rm /tmp/shop-$release.tar.gz"
    restart "$host"
done
rm -f "/tmp/shop-$release.tar.gz"
echo "deployed $release to $(echo "$HOSTS" | wc -w) host(s)"
