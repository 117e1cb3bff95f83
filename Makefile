# SPDX-License-Identifier: BSD-2-Clause
# sockserve: `make` builds ./sockserve; `make run` serves a demo; `make check`
# runs the test suite against a normal and a sanitizer build.  Both set-up
# targets install what is missing first (see .ci/deps).

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
# zsh's own fpath has site-functions under its prefix (a Debian package puts
# it in vendor-completions instead: debian/rules)
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
DESTDIR ?=

# The version's one place is the file VERSION.
VERSION := $(shell cat VERSION)

CC ?= cc
CFLAGS ?= -O2 -g
# CPPFLAGS and LDFLAGS from the environment are honoured (a Debian build's
# dpkg-buildflags add fortify, PIE, relro and now through them).
CPPFLAGS ?=
PKG_CONFIG ?= pkg-config
WARNINGS = -Wall -Wextra -Wshadow -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes \
           -Wpointer-arith -Wundef
DEPFLAGS = -MMD -MP
ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE -pthread -DSS_VERSION='"$(VERSION)"' $(WARNINGS) $(CPPFLAGS) $(CFLAGS) \
             $(shell $(PKG_CONFIG) --cflags popt libbsd libssl libcrypto 2>/dev/null)
# OpenSSL: headers only; libssl.so.3 is loaded when TLS is asked for (lib/tls_openssl.h).
LIBS = $(shell $(PKG_CONFIG) --libs popt libbsd libmd 2>/dev/null) -pthread

STATIC ?= 0
# SANITIZE=1: AddressSanitizer and UBSan; SANITIZE=thread: ThreadSanitizer.
SANITIZE ?= 0
ifeq ($(SANITIZE),1)
VARIANT = asan
ALL_CFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
else ifeq ($(SANITIZE),thread)
VARIANT = tsan
ALL_CFLAGS += -O1 -fsanitize=thread -fno-omit-frame-pointer
LDFLAGS += -fsanitize=thread
else ifeq ($(STATIC),1)
VARIANT = static
else
VARIANT = release
endif
OUT ?= build/$(VARIANT)

# STATIC=1: one self-contained program (build/static/sockserve), with popt,
# libbsd and the C library linked in: about half the resident memory of the
# dynamic build.  --user and --group names then come from /etc/passwd and
# /etc/group only: NSS modules cannot be loaded into a static program safely.
ifeq ($(STATIC),1)
ALL_CFLAGS += -DSS_FILES_ONLY -DSS_TLS_LINKED
LDFLAGS += -static
LIBS = $(shell $(PKG_CONFIG) --static --libs popt libbsd libmd libssl libcrypto 2>/dev/null) -pthread
endif

LIB_SRC = $(wildcard lib/*.c)
CLI_SRC = $(wildcard cli/*.c)
LIB_OBJ = $(LIB_SRC:%.c=$(OUT)/%.o)
CLI_OBJ = $(CLI_SRC:%.c=$(OUT)/%.o)
# the tests' helpers, the load generator among them (bounded in count and time)
HELPERS = build/helpers/ssclient build/helpers/probe build/bench/load $(UNIT_TESTS)
# C unit tests of the library's leaves (tests/unit.bats runs them)
UNIT_TESTS = build/unit/loop build/unit/config build/unit/opening
BENCH_TOOLS = build/bench/load build/bench/ok build/bench/echo build/bench/reply build/bench/direct build/bench/spawnloop build/bench/nospawn

ifneq ($(SANITIZE)$(STATIC),00)
PROGRAM ?= $(OUT)/sockserve
else
PROGRAM ?= sockserve
endif

DEMO_PORT ?= 8080

.PHONY: all static deps-build deps-test run test check install uninstall clean helpers bench bench-tools \
	fuzz fuzz-build soak dist completions bench-cores

all: $(PROGRAM)

$(OUT)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -c $< -o $@

# what prints the version is rebuilt when it changes
$(OUT)/cli/options.o: VERSION

$(OUT)/libsockserve.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(PROGRAM): $(CLI_OBJ) $(OUT)/libsockserve.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJ) $(OUT)/libsockserve.a $(LIBS)

build/helpers/%: tests/helpers/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -D_GNU_SOURCE $(WARNINGS) -O2 -g -o $@ $<

build/unit/loop: tests/unit/loop.c lib/loop.c lib/loop.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -D_GNU_SOURCE $(WARNINGS) -O1 -g -fsanitize=address,undefined -Ilib -o $@ tests/unit/loop.c lib/loop.c

# config_check's rules; the openings of a real server (ASan and UBSan)
build/unit/config build/unit/opening: build/unit/%: tests/unit/%.c $(LIB_SRC) $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -O1 -g -fsanitize=address,undefined -Ilib -o $@ $< $(LIB_SRC) $(LIBS)

helpers: $(HELPERS)

# The benchmark's programs: the handlers are static, so that exec costs the
# same under every tool and nothing of the dynamic loader is measured.
build/bench/ok build/bench/echo build/bench/reply: build/bench/%: tests/bench/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -D_GNU_SOURCE $(WARNINGS) -O2 -static -o $@ $<

build/bench/%: tests/bench/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -D_GNU_SOURCE $(WARNINGS) -O2 -pthread -o $@ $<

# The load generator speaks TLS too (-S).
build/bench/load: tests/bench/load.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -D_GNU_SOURCE $(WARNINGS) -O2 -pthread -o $@ $< -lssl -lcrypto

bench-tools: $(BENCH_TOOLS)

# sockserve against the peers that are installed (.ci/deps bench installs
# them): a markdown table on stdout, progress on stderr.
bench:
	@.ci/deps bench
	@$(MAKE) --no-print-directory all bench-tools SANITIZE=0
	@$(MAKE) --no-print-directory static
	@tests/bench/run

# One event loop's cost per request, the projection to 16 and 64 cores, and
# --workers under taskset (tests/bench/cores): markdown on stdout.
bench-cores:
	@.ci/deps bench
	@$(MAKE) --no-print-directory all bench-tools SANITIZE=0
	@tests/bench/cores

# Fuzzing (clang's libFuzzer, with ASan and UBSan): each target in
# tests/fuzz/ runs the real library code on the fuzzer's bytes for
# FUZZ_SECONDS, after replaying its regression inputs.
FUZZ_SECONDS ?= 30
FUZZ_TARGETS = addr cidr json log options proxy ws
FUZZ_CC ?= clang
FUZZ_FLAGS = -std=gnu11 -D_GNU_SOURCE -pthread -DSS_VERSION='"$(VERSION)"' -g -O1 -fno-omit-frame-pointer \
             -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
             $(shell $(PKG_CONFIG) --cflags popt libbsd libssl libcrypto 2>/dev/null)
# the address target never asks a resolver about the names it makes up
FUZZ_LDFLAGS_addr = -Wl,--wrap=getaddrinfo

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_SRC) cli/options.c $(wildcard lib/*.h cli/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(LIB_SRC) cli/options.c $(LIBS) $(FUZZ_LDFLAGS_$*)

fuzz-build: $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)

fuzz: deps-test
	@$(MAKE) --no-print-directory fuzz-build
	@tests/fuzz/run $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# A long, bounded run in every mode (not part of make check): RSS,
# descriptors and zombies sampled throughout; a table and docs/soak.svg.
soak:
	@.ci/deps soak
	@$(MAKE) --no-print-directory all build/bench/load build/bench/ok
	@tests/soak/run

deps-build:
	@.ci/deps build

deps-test:
	@.ci/deps test

# A demo: an upper-casing echo server on 127.0.0.1, logging each request.
run: deps-build
	@$(MAKE) --no-print-directory all
	@echo "sockserve demo on 127.0.0.1:$(DEMO_PORT): try, in another terminal (bash's /dev/tcp: no netcat needed)"
	@echo "  bash -c 'exec 3<>/dev/tcp/127.0.0.1/$(DEMO_PORT); echo hello >&3; cat <&3'"
	@echo "Ctrl-C stops it."
	./sockserve -v 127.0.0.1:$(DEMO_PORT) -- sh -c 'read -r line; echo "$$line" | tr a-z A-Z'

# The suite against the build selected by SANITIZE.
test: deps-test
	@$(MAKE) --no-print-directory all helpers
	@tests/run $(PROGRAM)

# The suite against a normal build in every mode, the AddressSanitizer build
# in the fork and thread modes (sync runs the same code one at a time), the
# ThreadSanitizer build in thread mode on the suites where threads meet (not
# the command line, users or the real servers), and the static build in fork
# mode, with the suites where its linking shows (user and host lookups, OpenSSL
# linked in, the real servers); one summary line.
check: deps-test
	@$(MAKE) --no-print-directory all helpers SANITIZE=0
	@$(MAKE) --no-print-directory all SANITIZE=1
	@$(MAKE) --no-print-directory all SANITIZE=thread
	@$(MAKE) --no-print-directory static
	@TSAN_OPTIONS="halt_on_error=1 exitcode=66 $${TSAN_OPTIONS-}" \
		tests/run sockserve build/asan/sockserve@fork,thread build/tsan/sockserve@thread:stream,lifecycle,datagram,time,hardening,proxy,tls,modes,resources,workers,logging,access,testing,ws \
		build/tsan/sockserve@fork:stream,lifecycle,datagram,time,modes,testing \
		build/static/sockserve@fork:stream,cli,privileges,lifecycle,tls,integration

# Never installs packages: only what make built (and the docs).
install: sockserve
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR) \
		$(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	install -m 755 sockserve $(DESTDIR)$(BINDIR)/sockserve
	sed 's/"sockserve" "User Commands"/"sockserve $(VERSION)" "User Commands"/' man/sockserve.1 \
		>$(DESTDIR)$(MANDIR)/man1/sockserve.1
	chmod 644 $(DESTDIR)$(MANDIR)/man1/sockserve.1
	install -m 644 completions/sockserve.bash $(DESTDIR)$(BASHCOMPDIR)/sockserve
	install -m 644 completions/_sockserve $(DESTDIR)$(ZSHCOMPDIR)/_sockserve
	install -m 644 completions/sockserve.fish $(DESTDIR)$(FISHCOMPDIR)/sockserve.fish

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/sockserve $(DESTDIR)$(MANDIR)/man1/sockserve.1 \
	      $(DESTDIR)$(BASHCOMPDIR)/sockserve $(DESTDIR)$(ZSHCOMPDIR)/_sockserve \
	      $(DESTDIR)$(FISHCOMPDIR)/sockserve.fish

# The static build, quietly: the linker's warnings about NSS lookups in a
# static program are the caveat the comment above describes; the log is
# shown if the build fails.
static:
	@mkdir -p build
	@$(MAKE) --no-print-directory all STATIC=1 >build/static.log 2>&1 || { cat build/static.log; exit 1; }

# The bash, zsh and fish completions, from the option table of --help.
completions: sockserve
	cli/completions.py ./sockserve completions

# A source tarball of what git tracks, that builds on its own.
DIST = sockserve-$(VERSION)
dist:
	@mkdir -p build
	git archive --format=tar.gz --prefix=$(DIST)/ -o build/$(DIST).tar.gz HEAD
	@echo "build/$(DIST).tar.gz"

clean:
	rm -rf build sockserve

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
