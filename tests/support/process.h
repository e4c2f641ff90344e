// Test support for integration tests: child processes that are always
// cleaned up, temporary directories, and waiting by polling with a deadline.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace beacon::testing {

// A program started by the test. The destructor SIGKILLs and reaps it if it is
// still running, so a failing test never leaves processes behind. Only the
// pid this object started is ever signalled. Not thread-safe.
class ChildProcess {
 public:
  // Starts `path` with `args`; stdout and stderr go to log_path (appended).
  // extra_env entries ("NAME=value") are added to the inherited environment.
  // Returns nullptr (and prints why) when the program cannot be started.
  static std::unique_ptr<ChildProcess> Start(
      const std::string& path, const std::vector<std::string>& args,
      const std::string& log_path, const std::vector<std::string>& extra_env = {});
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  bool Signal(int sig);  // false if it already exited
  // Waits until every thread of the process is stopped (as after SIGSTOP:
  // the signal is sent at once but each thread stops on its own a little
  // later, and may still answer a request meanwhile); false after timeout_ms.
  bool WaitUntilStopped(int timeout_ms);
  bool Running();
  // Waits up to timeout_ms; the exit code (128+signal when killed), or
  // nullopt when it is still running.
  std::optional<int> WaitForExit(int timeout_ms);
  std::string Log() const;  // what it printed so far

 private:
  ChildProcess() = default;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string log_path_;
};

// Polls cond every poll_ms until it is true or timeout_ms passes.
bool WaitUntil(const std::function<bool()>& cond, int timeout_ms, int poll_ms = 10);

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on
// destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Reads a port number written by a program's --port-file, waiting up to
// timeout_ms for it to appear. 0 when it did not.
int ReadPortFile(const std::string& path, int timeout_ms);

// A port on 127.0.0.1 bound by this object but never listened on, for an
// address where nothing answers: a connection to it is refused at once, and
// no other program can take the port while the object lives (unlike a port
// found free and closed again). Servers under test take port 0 and report
// theirs with --port-file instead. Not thread-safe.
class RefusingPort {
 public:
  RefusingPort();  // port() is 0 (and why is printed) if no port can be bound
  ~RefusingPort();
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace beacon::testing
