// Package staticbin checks that a binary can run in a FROM-scratch image:
// a Linux ELF executable with no program interpreter (no C library to
// load it with), for the engine's architecture.
package staticbin

import (
	"debug/elf"
	"fmt"
)

// Check returns nil when path is a statically linked Linux binary and, if
// goarch is not empty, built for that GOARCH (an engine's "docker version"
// Arch). Its errors say how to build a suitable binary.
func Check(path, goarch string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s is not a Linux binary (%v): build one with scripts/build.sh", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked and cannot run FROM scratch: build it with CGO_ENABLED=0 (scripts/build.sh)", path)
		}
	}
	if goarch != "" {
		if got := Arch(f); got != goarch {
			return fmt.Errorf("%s is built for %s, but the Docker engine runs %s: build it with GOARCH=%s CGO_ENABLED=0", path, orUnknown(got, f), goarch, goarch)
		}
	}
	return nil
}

// Arch is the GOARCH of an ELF file, or "" when it is none Go targets.
func Arch(f *elf.File) string {
	le := f.ByteOrder.String() == "LittleEndian"
	switch f.Machine {
	case elf.EM_X86_64:
		return "amd64"
	case elf.EM_386:
		return "386"
	case elf.EM_AARCH64:
		return "arm64"
	case elf.EM_ARM:
		return "arm"
	case elf.EM_PPC64:
		if le {
			return "ppc64le"
		}
		return "ppc64"
	case elf.EM_S390:
		return "s390x"
	case elf.EM_RISCV:
		return "riscv64"
	case elf.EM_LOONGARCH:
		return "loong64"
	case elf.EM_MIPS:
		if f.Class == elf.ELFCLASS64 {
			if le {
				return "mips64le"
			}
			return "mips64"
		}
		if le {
			return "mipsle"
		}
		return "mips"
	}
	return ""
}

func orUnknown(arch string, f *elf.File) string {
	if arch != "" {
		return arch
	}
	return f.Machine.String()
}
