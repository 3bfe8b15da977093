// no_uring EPERM|ENOSYS PROGRAM [ARGS...]: runs PROGRAM where io_uring is refused.
//
// For the integration tests of the epoll fallback (tests/integration/test_backend.py).
// Docker's and containerd's default seccomp profiles refuse io_uring_setup, io_uring_enter
// and io_uring_register with EPERM; a kernel built without io_uring answers ENOSYS. This
// launcher imitates either without root: it sets PR_SET_NO_NEW_PRIVS, installs a seccomp
// filter that makes those three system calls fail with the chosen errno (every other call
// is allowed, and so is every call made under another architecture's ABI), then execs
// PROGRAM, which inherits the filter along with its threads and children.
//
// Exit codes: PROGRAM's own; 2 for a bad command line, 1 if the filter cannot be
// installed, 126/127 if PROGRAM cannot be executed / found (as env(1) does).
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace {

#if defined(__x86_64__)
constexpr std::uint32_t kArch = AUDIT_ARCH_X86_64;
// The x32 ABI reaches the same kernel entry points with this bit set in the number.
constexpr std::uint32_t kAbiBits = 0x40000000u;
static_assert(__NR_io_uring_setup == 425 && __NR_io_uring_enter == 426 && __NR_io_uring_register == 427);
#elif defined(__aarch64__)
constexpr std::uint32_t kArch = AUDIT_ARCH_AARCH64;
constexpr std::uint32_t kAbiBits = 0;
#else
#error "no_uring: add this architecture's AUDIT_ARCH_* value"
#endif

constexpr sock_filter stmt(std::uint16_t code, std::uint32_t k) { return {code, 0, 0, k}; }
constexpr sock_filter jump(std::uint16_t code, std::uint32_t k, std::uint8_t jt, std::uint8_t jf) {
  return {code, jt, jf, k};
}

int install_filter(int err) {
  const std::uint32_t refuse = SECCOMP_RET_ERRNO | (static_cast<std::uint32_t>(err) & SECCOMP_RET_DATA);
  sock_filter code[] = {
      // Another ABI (e.g. i386 through int 0x80): its numbers mean other calls; allow.
      stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      jump(BPF_JMP | BPF_JEQ | BPF_K, kArch, 1, 0),
      stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      stmt(BPF_ALU | BPF_AND | BPF_K, ~kAbiBits),
      jump(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 3, 0),
      jump(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 2, 0),
      jump(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_register, 1, 0),
      stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      stmt(BPF_RET | BPF_K, refuse),
  };
  const sock_fprog prog{static_cast<unsigned short>(sizeof code / sizeof code[0]), code};
  // Without this an unprivileged process may not install a filter (it could otherwise
  // confuse a setuid program it execs).
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) return errno;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: no_uring EPERM|ENOSYS PROGRAM [ARGS...]\n");
    return 2;
  }
  std::string_view which = argv[1];
  int err = which == "EPERM" ? EPERM : which == "ENOSYS" ? ENOSYS : 0;
  if (err == 0) {
    std::fprintf(stderr, "no_uring: '%s' is not EPERM or ENOSYS\n", argv[1]);
    return 2;
  }
  if (int rc = install_filter(err); rc != 0) {
    std::fprintf(stderr, "no_uring: cannot install the seccomp filter: %s\n", std::strerror(rc));
    return 1;
  }
  execvp(argv[2], argv + 2);
  int rc = errno;
  std::fprintf(stderr, "no_uring: cannot execute %s: %s\n", argv[2], std::strerror(rc));
  return rc == ENOENT ? 127 : 126;
}
