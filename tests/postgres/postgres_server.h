// A real PostgreSQL server for tests, started by the test itself: initdb and
// postgres in a fresh temporary directory, as the unprivileged `postgres`
// user when the test runs as root (via runuser), listening on 127.0.0.1 on a
// port the test picked and on a Unix socket inside that directory only.
// Password authentication (scram-sha-256) over TCP, so tests exercise
// passwords in URIs. fsync=off: tests never crash the machine, and a server
// killed by a signal loses nothing the kernel already has.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

namespace beacon::testing {

// A bound on waiting stretched for slow builds and loaded machines: ms times
// BEACON_TEST_TIME_SCALE (a positive integer, default 1), as faults::Scaled.
// Only slack and waiting are scaled, never a deadline the code under test
// was given.
int ScaledMs(int ms);

// Not thread-safe; one per test or suite. The destructor stops the server
// by its pid (immediate shutdown, then SIGKILL) and removes the directory,
// also when a test failed.
class PostgresServer {
 public:
  static constexpr const char* kUser = "beacon";
  static constexpr const char* kPassword = "t3st-s3cret-pw";

  // Starts a server, waiting until it accepts connections. nullptr with
  // *error set when it cannot; *missing is set when the PostgreSQL binaries
  // are not installed (tests then skip, saying so).
  static std::unique_ptr<PostgresServer> Start(std::string* error, bool* missing);
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  int port() const { return port_; }
  // postgresql://beacon:PASSWORD@127.0.0.1:PORT/<db>
  std::string Uri(const std::string& db) const;
  // The same without the password.
  std::string UriWithoutPassword(const std::string& db) const;

  // Creates an empty database; false (with *error) on failure.
  bool CreateDatabase(const std::string& name, std::string* error);
  // Runs SQL on `db` and returns the first column of the first row ("" when
  // there is none); *error is set (and "" returned) on failure.
  std::string Query(const std::string& db, const std::string& sql,
                    std::string* error) const;

  // Stops the server (fast shutdown: clients are disconnected) and waits
  // until it has exited; the data stays. False when it did not stop.
  bool Stop(int timeout_ms = 30000);
  // Starts the stopped server again on the same port and data.
  bool Restart(std::string* error);
  bool running() const { return runner_ > 0; }
  // The postmaster's pid while running (for SIGSTOP and the like).
  pid_t postmaster_pid() const { return postmaster_; }
  std::string Log() const;

 private:
  PostgresServer() = default;
  bool Launch(std::string* error);
  // Signals the postmaster and reaps the process this object started;
  // false if it did not exit within timeout_ms.
  bool Shutdown(int sig, int timeout_ms);

  std::string bin_dir_;
  std::string dir_;
  int port_ = 0;
  pid_t runner_ = -1;      // our child: runuser, or postgres itself
  pid_t postmaster_ = -1;  // from postmaster.pid
};

}  // namespace beacon::testing
