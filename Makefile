# The two commands of the README: `make run` and `make test`.
.PHONY: run test bench clean

run:
	bash scripts/run.sh

test:
	bash scripts/test.sh

bench:
	bash bench/run.sh

clean:
	bash -c 'source scripts/common.sh; for d in $$run_dir/pg*; do [ -d "$$d" ] && scripts/pg.sh stop "$$d" 0; done; rm -rf $$run_dir'
