# popebot-node — the entry points.
#   make demo   install what is missing, build, run a coordinator and two
#               workers on loopback, submit jobs, print results; Ctrl-C stops.
#   make test   install what is missing, build, run the whole suite (ctest);
#               then the same suite again built with -fsanitize=address,undefined,
#               where any sanitizer report fails the run; then each libFuzzer
#               target for 15 s (tests/fuzz, built in $(BUILD)-fuzz with clang).
#   make fuzz   install what is missing, build the libFuzzer targets, run each
#               for FUZZ_SECONDS (default 60); a crash, leak or sanitizer
#               report fails it and keeps the input under $(BUILD)-fuzz/crashes.
BUILD ?= build
JOBS  ?= 2
FUZZ_SECONDS ?= 60

.PHONY: demo test fuzz fuzz-build

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
	@$(MAKE) --no-print-directory fuzz-build
	@scripts/fuzz $(BUILD)-fuzz 15

fuzz:
	@scripts/bootstrap
	@$(MAKE) --no-print-directory fuzz-build
	@scripts/fuzz $(BUILD)-fuzz $(FUZZ_SECONDS)

fuzz-build:
	@cmake -S . -B $(BUILD)-fuzz -DCMAKE_C_COMPILER=clang-14 -DCMAKE_BUILD_TYPE=Debug -DPOPEBOT_FUZZ=ON >/dev/null
	@cmake --build $(BUILD)-fuzz -j$(JOBS)
