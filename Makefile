# OpenRCM: two commands do everything on a fresh machine.
#   make demo   start PostgreSQL, Kafka and every service, then run the demo batch through them
#   make test   start what the tests need, run unit + integration + end-to-end tests, stop it again
.PHONY: demo up down status test bench

demo: up
	.venv/bin/python deploy/demo.py

up:
	deploy/stack.sh up

down:
	deploy/stack.sh down

status:
	deploy/stack.sh status

test:
	deploy/test.sh

bench: up
	.venv/bin/python bench/pipeline.py
