#!/usr/bin/env bash
# docker-compose one-shot (app image, as root): the Kafka principals' passwords and the broker's certificate in the
# kafka-secrets volume, made once and kept, as deploy/stack.sh makes them in $RCM_STACK_DIR (README "Kafka
# security"). The broker's image runs as uid 1000 and reads its own login and certificate (broker/); the app's
# (uid 10001) reads the services' passwords and the CA (kafka-auth/, tls/).
set -euo pipefail
python deploy/kafka_admin.py credentials --stack-dir /secrets
python -m rcm_runtime.dev_ca ensure /secrets/tls --name kafka --hosts kafka,localhost >/dev/null
mkdir -p /secrets/broker
cp /secrets/kafka-auth/rcm-broker.password /secrets/kafka-auth/rcm-admin.password \
   /secrets/tls/kafka-bundle.pem /secrets/tls/ca.pem /secrets/broker/
chown -R 1000 /secrets/broker && chmod 700 /secrets/broker
chown -R 10001 /secrets/kafka-auth /secrets/tls
