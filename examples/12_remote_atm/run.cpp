// SPDX-License-Identifier: MIT
//
// Tutorial section 3, "Session types", across processes: the runner of the
// remote ATM. It starts the ATM (server.cpp), learns from its first line
// where it listens, starts the customers (client.cpp) there, and shows what
// each printed, every line prefixed with whose it is. It exits 0 only if
// both programs did.
//
//   run <server program> <client program> <tcp|ipc>
//
// tcp: the server listens on 127.0.0.1, on a free port ZeroMQ picks; ipc:
// on a socket file in the temporary directory, named after this process, removed at the end.
//
// Nothing here can hang: every wait has a deadline (poll() for the
// programs' output, a bounded loop for their exit). A program still
// running at the end of it, or when the runner leaves early for any
// reason, is killed (SIGKILL) and reaped by the destructor of its Child.
// There is nothing of spindle here: only POSIX, posix_spawn and a pipe
// per program.

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// How long the server may take to say where it listens, and both programs
// to finish from then on. On an idle machine they take a fraction of a
// second; these leave room for a machine busy with other builds, and stay
// under CTest's limit for the test (SPINDLE_TEST_TIMEOUT, 120 s).
constexpr std::chrono::seconds startup_limit{30};
constexpr std::chrono::seconds run_limit{60};
// How long the server may take to exit once the client has failed.
constexpr std::chrono::seconds grace{5};

// A file descriptor, closed when it goes.
class Fd {
 public:
  Fd() noexcept = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      close();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { close(); }

  [[nodiscard]] int get() const noexcept { return fd_; }
  [[nodiscard]] bool is_open() const noexcept { return fd_ >= 0; }
  void close() noexcept {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

 private:
  int fd_ = -1;
};

// A pipe whose two ends a spawned program does not inherit (close-on-exec):
// each program gets only the write end that becomes its stdout, so each
// pipe reports end-of-file as soon as its own program exits.
struct Pipe {
  Fd read;
  Fd write;
};

Pipe make_pipe() {
  int fds[2] = {-1, -1};
  if (::pipe(fds) != 0) {
    throw std::system_error(errno, std::generic_category(), "pipe");
  }
  Pipe ends{Fd(fds[0]), Fd(fds[1])};
  for (const int fd : fds) {
    if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
      throw std::system_error(errno, std::generic_category(), "fcntl");
    }
  }
  return ends;
}

// A program running as a child of this process, its stdout a pipe to this
// one (its stderr is this process's). The destructor kills (SIGKILL) and
// reaps a child not yet waited for.
class Child {
 public:
  // Starts the program args[0] with the arguments args[1...].
  Child(std::string name, std::vector<std::string> args) : name_(std::move(name)) {
    Pipe out = make_pipe();
    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawn_file_actions_adddup2(&actions, out.write.get(), STDOUT_FILENO);
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (std::string& arg : args) {
      argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    const int error = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    ::posix_spawn_file_actions_destroy(&actions);
    if (error != 0) {
      pid_ = -1;
      throw std::system_error(error, std::generic_category(), "posix_spawn " + args[0]);
    }
    output_fd_ = std::move(out.read);
    // out.write is closed here: from now on only the child holds it.
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  // What it printed so far.
  [[nodiscard]] const std::string& output() const noexcept { return output_; }
  // Its stdout reached end-of-file: it exited (or closed it).
  [[nodiscard]] bool output_ended() const noexcept { return !output_fd_.is_open(); }
  [[nodiscard]] int output_fd() const noexcept { return output_fd_.get(); }

  // Reads what its stdout has, once poll() said it has something.
  void read_output() {
    char bytes[4096];
    const ssize_t n = ::read(output_fd_.get(), bytes, sizeof bytes);
    if (n > 0) {
      output_.append(bytes, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      output_fd_.close();  // end-of-file, or an error: nothing more to read
    }
  }

  // Waits until `deadline` for the child to exit, and returns its exit
  // code (128 + the signal, if one ended it). Nothing: it had not exited by
  // then, and it is killed.
  std::optional<int> wait(Clock::time_point deadline) {
    for (;;) {
      int status = 0;
      const pid_t done = ::waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      if (done < 0 && errno != EINTR) {
        throw std::system_error(errno, std::generic_category(), "waitpid");
      }
      if (Clock::now() >= deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
        return std::nullopt;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

 private:
  std::string name_;
  pid_t pid_ = -1;
  Fd output_fd_;
  std::string output_;
};

// Reads what the children print, as it comes, until done() is true or
// `deadline` passes; returns whether done() came true.
template <class Done>
bool read_outputs(const std::vector<Child*>& children, Clock::time_point deadline, Done done) {
  while (!done()) {
    std::vector<pollfd> fds;
    std::vector<Child*> whose;
    for (Child* child : children) {
      if (!child->output_ended()) {
        fds.push_back({child->output_fd(), POLLIN, 0});
        whose.push_back(child);
      }
    }
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (fds.empty() || left <= 0) {
      return false;  // nothing more will come, or not in time
    }
    if (::poll(fds.data(), fds.size(), static_cast<int>(left)) < 0 && errno != EINTR) {
      throw std::system_error(errno, std::generic_category(), "poll");
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents != 0) {
        whose[i]->read_output();
      }
    }
  }
  return true;
}

// The lines of `text`, the last one even without its newline.
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t begin = 0;
  while (begin < text.size()) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string::npos) {
      end = text.size();
    }
    lines.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  return lines;
}

// An ipc socket file of this process's own, removed when it goes.
class IpcPath {
 public:
  IpcPath()
      : path_((std::filesystem::temp_directory_path() / "spindle-12_remote_atm-").string() +
              std::to_string(::getpid()) + ".ipc") {}
  IpcPath(const IpcPath&) = delete;
  IpcPath& operator=(const IpcPath&) = delete;
  ~IpcPath() { (void)std::remove(path_.c_str()); }  // fails only if it is gone already
  [[nodiscard]] std::string endpoint() const { return "ipc://" + path_; }

 private:
  std::string path_;
};

// Whether a child, waited for, exited 0; says on stderr what it did if not.
bool exited_0(const Child& child, std::optional<int> exit) {
  if (!exit) {
    std::cerr << "run: the " << child.name() << " did not exit in time: killed\n";
    return false;
  }
  if (*exit != 0) {
    std::cerr << "run: the " << child.name() << " exited with " << *exit << ", not 0\n";
    return false;
  }
  return true;
}

int run(const std::string& server_program, const std::string& client_program, const std::string& transport) {
  // Declared before the programs, so removed after they are gone.
  std::optional<IpcPath> ipc;
  if (transport == "ipc") {
    ipc.emplace();
  }
  const std::string listen_on = ipc ? ipc->endpoint() : "tcp://127.0.0.1:*";

  // The server's first line says where it listens: with tcp, which port.
  Child server("server", {server_program, listen_on});
  const std::string prefix = "listening on ";
  const auto has_first_line = [&] { return server.output().find('\n') != std::string::npos || server.output_ended(); };
  read_outputs({&server}, Clock::now() + startup_limit, has_first_line);
  const std::size_t newline = server.output().find('\n');
  if (newline == std::string::npos || server.output().rfind(prefix, 0) != 0) {
    std::cerr << "run: the server's first line, within " << startup_limit.count()
              << " s, was not \"listening on <endpoint>\"; it printed:\n"
              << server.output() << '\n';
    return 1;
  }
  const std::string endpoint = server.output().substr(prefix.size(), newline - prefix.size());

  // The customers, there. Their program ends first (the server serves
  // until the last of them has gone); meanwhile the server's output is read
  // too, so that neither ever waits on a full pipe.
  Child client("client", {client_program, endpoint});
  const auto deadline = Clock::now() + run_limit;
  read_outputs({&server, &client}, deadline, [&] { return client.output_ended(); });
  const std::optional<int> client_exit = client.wait(deadline);

  // Then the server. If the customers failed, it may wait for one that
  // never comes: it gets a few seconds to finish, not the rest of the
  // deadline.
  const auto server_deadline = client_exit == 0 ? deadline : std::min(deadline, Clock::now() + grace);
  read_outputs({&server}, server_deadline, [&] { return server.output_ended(); });
  const std::optional<int> server_exit = server.wait(server_deadline);

  // What each printed: the server's first line, the customers', then the
  // rest of the server's (its books, once the last customer has gone).
  const std::vector<std::string> server_lines = lines_of(server.output());
  std::cout << "server: " << server_lines.front() << '\n';
  for (const std::string& line : lines_of(client.output())) {
    std::cout << "client: " << line << '\n';
  }
  for (std::size_t i = 1; i < server_lines.size(); ++i) {
    std::cout << "server: " << server_lines[i] << '\n';
  }

  const bool client_ok = exited_0(client, client_exit);
  const bool server_ok = exited_0(server, server_exit);
  return client_ok && server_ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 || (std::string(argv[3]) != "tcp" && std::string(argv[3]) != "ipc")) {
    std::cerr << "usage: run <server program> <client program> <tcp|ipc>\n";
    return 2;
  }
  try {
    return run(argv[1], argv[2], argv[3]);
  } catch (const std::exception& error) {
    // Cannot start a program, or a pipe: the Child destructors have killed
    // and reaped whatever had started.
    std::cerr << "run: " << error.what() << '\n';
    return 1;
  }
}
