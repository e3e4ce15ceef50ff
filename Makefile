# Builds and installs portctl: `make install`, `make uninstall`, `make deb`.
#
#   PREFIX        where to install: /usr/local as root, ~/.local otherwise
#   DESTDIR       a staging root prepended to every installed path (packaging)
#   SWIFT         the swift driver (default: swift on PATH)
#   SCRATCH_PATH  SwiftPM's build directory (default: .build)
#
# The binaries are release builds with the Swift runtime linked in
# (--static-swift-stdlib), so they run without a Swift toolchain installed. portctl-mcp links
# FoundationNetworking through the MCP SDK, which needs libcurl's development files
# (Debian: libcurl4-openssl-dev). The man page is generated from the command definitions by
# swift-argument-parser's generate-manual plugin; the completion scripts by
# `portctl --generate-completion-script`.

SHELL := /bin/sh
SWIFT ?= swift
SCRATCH_PATH ?= .build

ifeq ($(shell id -u),0)
PREFIX ?= /usr/local
else
PREFIX ?= $(HOME)/.local
endif

VERSION := $(shell sed -n 's/^ *public static let current = "\(.*\)"$$/\1/p' Sources/PortKit/Version.swift)
ARCH := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)

BINDIR = $(PREFIX)/bin
MAN1DIR = $(PREFIX)/share/man/man1
BASHDIR = $(PREFIX)/share/bash-completion/completions
ZSHDIR = $(PREFIX)/share/zsh/site-functions
FISHDIR = $(PREFIX)/share/fish/vendor_completions.d

RELEASE = $(SCRATCH_PATH)/release
STAGE = $(SCRATCH_PATH)/dist
DEB_ROOT = $(SCRATCH_PATH)/deb/portctl_$(VERSION)_$(ARCH)
DEB = portctl_$(VERSION)_$(ARCH).deb

.PHONY: all build man completions install install-files uninstall deb version clean-dist

all: build man completions

version:
	@echo $(VERSION)

# The man page: the generate-manual plugin builds the package's products in debug mode (in the
# same scratch path; a debug build is quicker, and a developer's `swift build` has made it
# already), runs `portctl --experimental-dump-help` and writes mdoc. The release binaries are
# built apart from it, so the plugin's build never replaces them.
man: $(STAGE)/portctl.1

$(STAGE)/portctl.1: FORCE
	@mkdir -p $(STAGE)
	$(SWIFT) package --scratch-path $(SCRATCH_PATH) plugin generate-manual \
	  --configuration debug --authors "the portctl authors" --section 1
	cp $(SCRATCH_PATH)/plugins/GenerateManual/outputs/portctl/portctl.1 $@

build:
	$(SWIFT) build --scratch-path $(SCRATCH_PATH) -c release --static-swift-stdlib \
	  --product portctl
	$(SWIFT) build --scratch-path $(SCRATCH_PATH) -c release --static-swift-stdlib \
	  --product portctl-mcp

completions: build
	@mkdir -p $(STAGE)
	$(RELEASE)/portctl --generate-completion-script bash > $(STAGE)/portctl.bash
	$(RELEASE)/portctl --generate-completion-script zsh > $(STAGE)/_portctl
	$(RELEASE)/portctl --generate-completion-script fish > $(STAGE)/portctl.fish

install: all install-files

# Copies what `all` made; `install` builds first, `deb` has built already.
install-files:
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MAN1DIR) $(DESTDIR)$(BASHDIR) \
	  $(DESTDIR)$(ZSHDIR) $(DESTDIR)$(FISHDIR)
	install -m 755 $(RELEASE)/portctl $(RELEASE)/portctl-mcp $(DESTDIR)$(BINDIR)/
	install -m 644 $(STAGE)/portctl.1 $(DESTDIR)$(MAN1DIR)/portctl.1
	install -m 644 $(STAGE)/portctl.bash $(DESTDIR)$(BASHDIR)/portctl
	install -m 644 $(STAGE)/_portctl $(DESTDIR)$(ZSHDIR)/_portctl
	install -m 644 $(STAGE)/portctl.fish $(DESTDIR)$(FISHDIR)/portctl.fish

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/portctl $(DESTDIR)$(BINDIR)/portctl-mcp \
	  $(DESTDIR)$(MAN1DIR)/portctl.1 $(DESTDIR)$(BASHDIR)/portctl \
	  $(DESTDIR)$(ZSHDIR)/_portctl $(DESTDIR)$(FISHDIR)/portctl.fish

# A Debian package of the same install tree, installed under /usr.
deb: all
	rm -rf $(DEB_ROOT)
	$(MAKE) install-files DESTDIR=$(abspath $(DEB_ROOT)) PREFIX=/usr SCRATCH_PATH=$(SCRATCH_PATH)
	gzip -9n $(DEB_ROOT)/usr/share/man/man1/portctl.1
	install -d $(DEB_ROOT)/DEBIAN $(DEB_ROOT)/usr/share/doc/portctl
	install -m 644 LICENSE $(DEB_ROOT)/usr/share/doc/portctl/copyright
	sed -e 's/@VERSION@/$(VERSION)/' -e 's/@ARCH@/$(ARCH)/' \
	  -e "s/@SIZE@/$$(du -sk $(DEB_ROOT)/usr | cut -f1)/" \
	  packaging/debian/control.in > $(DEB_ROOT)/DEBIAN/control
	dpkg-deb --root-owner-group --build $(DEB_ROOT) $(DEB)

clean-dist:
	rm -rf $(STAGE) $(SCRATCH_PATH)/deb $(DEB)

FORCE:
