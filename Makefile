# Thin targets; the work is in cargo and scripts/.
.PHONY: build demo test lint bench clean

build:
	cargo build --release --workspace

demo: build
	scripts/demo.sh

test: lint
	cargo test --workspace
	scripts/e2e.sh
	scripts/kafka-e2e.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

bench: build
	scripts/bench.sh
	scripts/bench-prom.sh
	scripts/bench-kafka.sh

clean:
	cargo clean
	rm -rf demo_out bench_out report_out
