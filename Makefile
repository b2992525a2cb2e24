# popebot-node — the two entry points.
#   make demo   install what is missing, build, run a coordinator and two
#               workers on loopback, submit jobs, print results; Ctrl-C stops.
#   make test   install what is missing, build, run the whole suite (ctest);
#               then the same suite again built with -fsanitize=address,undefined,
#               where any sanitizer report fails the run.
BUILD ?= build
JOBS  ?= 2

.PHONY: demo test

demo:
	@scripts/bootstrap
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)
	@scripts/demo $(BUILD)/popebot-node

test:
	@scripts/bootstrap
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)
	@cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DPOPEBOT_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD)-asan -j$(JOBS)
	@cd $(BUILD)-asan && ctest --output-on-failure -j$(JOBS)
