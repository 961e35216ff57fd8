#!/usr/bin/env bash
# docker-compose's broker (apache/kafka image): the local stack's configuration (deploy/kafka/server.properties.
# template, SASL_SSL with SCRAM-SHA-512 and ACLs), host `kafka`, secrets from the kafka-secrets volume
# (deploy/docker/kafka-secrets.sh). The two super users are made when the storage is first formatted.
set -euo pipefail
secrets=/secrets/broker data=/var/lib/kafka/data conf=/tmp/server.properties
pw() { tr -d '\n' <"$secrets/$1.password"; }
umask 077
sed -e "s#@HOST@#kafka#g" -e "s#@DATA_DIR@#$data#" -e "s#@BROKER_PORT@#9092#" -e "s#@CONTROLLER_PORT@#9093#" \
    -e "s#@TLS_DIR@#$secrets#" -e "s#@BROKER_PASSWORD@#$(pw rcm-broker)#g" \
    /openrcm/kafka/server.properties.template >"$conf"
if [ ! -f "$data/meta.properties" ]; then
  /opt/kafka/bin/kafka-storage.sh format -t "$CLUSTER_ID" -c "$conf" --ignore-formatted \
    --add-scram "SCRAM-SHA-512=[name=rcm-broker,password=$(pw rcm-broker)]" \
    --add-scram "SCRAM-SHA-512=[name=rcm-admin,password=$(pw rcm-admin)]"
fi
exec /opt/kafka/bin/kafka-server-start.sh "$conf"
