#include "postgres_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "support/process.h"

namespace beacon::testing {
namespace {

namespace fs = std::filesystem;

// A loopback port that was free a moment ago. PostgreSQL cannot listen on
// port 0 and report the port it got (the way Beacon's servers do with
// --port-file), so this is the one place that picks a number first; a start
// that loses the race to another process fails to bind and is retried with a
// new number (see Start).
int FreshLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    socklen_t len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
  }
  ::close(fd);
  return port;
}

// The newest /usr/lib/postgresql/N/bin with initdb and postgres, or
// $BEACON_PG_BINDIR; "" when none.
std::string FindBinDir() {
  if (const char* dir = std::getenv("BEACON_PG_BINDIR")) return dir;
  std::string best;
  int best_version = -1;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string bin = entry.path().string() + "/bin";
    if (!fs::exists(bin + "/initdb") || !fs::exists(bin + "/postgres")) continue;
    const int version = std::atoi(entry.path().filename().c_str());
    if (version > best_version) {
      best_version = version;
      best = bin;
    }
  }
  return best;
}

// Starts argv[0] (a full path) with output appended to log_path, as the
// `postgres` user via runuser when we are root. Dies with the test process
// (SIGTERM on parent death), so a crashed test leaves no server behind.
pid_t Spawn(const std::vector<std::string>& args, const std::string& log_path) {
  std::vector<std::string> full;
  if (::geteuid() == 0) full = {"/usr/sbin/runuser", "-u", "postgres", "--"};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : full) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent) ::_exit(127);
  const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::close(fd);
  }
  ::execv(argv[0], argv.data());
  ::_exit(127);
}

// Waits for our child; its exit code, or -1 after timeout_ms.
int WaitChild(pid_t pid, int timeout_ms) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (r < 0) return -2;  // not our child any more
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool ChownToPostgres(const std::string& path, std::string* error) {
  if (::geteuid() != 0) return true;
  const passwd* pw = ::getpwnam("postgres");
  if (pw == nullptr) {
    *error = "running as root, but there is no `postgres` user to run PostgreSQL as";
    return false;
  }
  if (::chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
    *error = "chown " + path + " failed";
    return false;
  }
  return true;
}

}  // namespace

int ScaledMs(int ms) {
  static const int scale = [] {
    const char* s = std::getenv("BEACON_TEST_TIME_SCALE");
    const int v = s ? std::atoi(s) : 1;
    return v >= 1 ? v : 1;
  }();
  return ms * scale;
}

std::unique_ptr<PostgresServer> PostgresServer::Start(std::string* error, bool* missing) {
  *missing = false;
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  server->bin_dir_ = FindBinDir();
  if (server->bin_dir_.empty()) {
    *missing = true;
    *error =
        "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin"
        " (scripts/install-deps installs them; or set BEACON_PG_BINDIR)";
    return nullptr;
  }
  std::string pattern = (fs::temp_directory_path() / "beacon_pg_XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    *error = "mkdtemp failed";
    return nullptr;
  }
  server->dir_ = pattern;
  const std::string pwfile = server->dir_ + "/password";
  { std::ofstream(pwfile) << kPassword << "\n"; }
  ::chmod(pwfile.c_str(), 0600);
  if (!ChownToPostgres(server->dir_, error) || !ChownToPostgres(pwfile, error))
    return nullptr;

  const pid_t initdb =
      Spawn({server->bin_dir_ + "/initdb", "-D", server->dir_ + "/data", "-U", kUser,
             "--pwfile=" + pwfile, "--auth-host=scram-sha-256", "--auth-local=trust",
             "-E", "UTF8", "--locale=C", "--no-sync"},
            server->dir_ + "/initdb.log");
  const int code = WaitChild(initdb, 120000);
  if (code != 0) {
    if (code == -1) {
      ::kill(initdb, SIGKILL);
      WaitChild(initdb, 5000);
    }
    *error = "initdb failed (" + std::to_string(code) +
             "): " + ReadFile(server->dir_ + "/initdb.log");
    return nullptr;
  }
  for (int attempt = 0; attempt < 3; ++attempt) {
    server->port_ = FreshLoopbackPort();
    if (server->Launch(error)) return server;
  }
  return nullptr;
}

bool PostgresServer::Launch(std::string* error) {
  const std::string data = dir_ + "/data";
  runner_ =
      Spawn({bin_dir_ + "/postgres", "-D", data, "-p", std::to_string(port_), "-c",
             "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + dir_, "-c",
             "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=200"},
            dir_ + "/postgres.log");
  const std::string ping = "host=127.0.0.1 port=" + std::to_string(port_) +
                           " dbname=postgres user=" + kUser + " connect_timeout=2";
  const bool ready = WaitUntil(
      [&] {
        if (WaitChild(runner_, 0) != -1) return true;  // exited: stop waiting
        return PQping(ping.c_str()) == PQPING_OK;
      },
      60000, 50);
  const int exited = WaitChild(runner_, 0);
  if (!ready || exited != -1) {
    *error = "postgres did not start on port " + std::to_string(port_) + ": " + Log();
    if (exited == -1) {
      ::kill(runner_, SIGKILL);
      WaitChild(runner_, 5000);
    }
    runner_ = -1;
    return false;
  }
  std::ifstream pid_file(data + "/postmaster.pid");
  pid_file >> postmaster_;
  return true;
}

PostgresServer::~PostgresServer() {
  if (running()) {
    if (!Shutdown(SIGQUIT, 10000)) Shutdown(SIGKILL, 10000);
  }
  if (!dir_.empty()) {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
}

bool PostgresServer::Shutdown(int sig, int timeout_ms) {
  if (!running()) return true;
  ::kill(postmaster_ > 0 ? postmaster_ : runner_, sig);
  const int code = WaitChild(runner_, timeout_ms);
  if (code == -1) return false;
  runner_ = -1;
  postmaster_ = -1;
  return true;
}

bool PostgresServer::Stop(int timeout_ms) { return Shutdown(SIGINT, timeout_ms); }

bool PostgresServer::Restart(std::string* error) {
  if (running()) return true;
  return Launch(error);
}

std::string PostgresServer::Uri(const std::string& db) const {
  return std::string("postgresql://") + kUser + ":" + kPassword +
         "@127.0.0.1:" + std::to_string(port_) + "/" + db;
}

std::string PostgresServer::UriWithoutPassword(const std::string& db) const {
  return std::string("postgresql://") + kUser + "@127.0.0.1:" + std::to_string(port_) +
         "/" + db;
}

std::string PostgresServer::Log() const { return ReadFile(dir_ + "/postgres.log"); }

bool PostgresServer::CreateDatabase(const std::string& name, std::string* error) {
  Query("postgres", "CREATE DATABASE \"" + name + "\"", error);
  return error->empty();
}

std::string PostgresServer::Query(const std::string& db, const std::string& sql,
                                  std::string* error) const {
  error->clear();
  PGconn* conn = PQconnectdb((Uri(db) + "?connect_timeout=10").c_str());
  std::string value;
  if (PQstatus(conn) != CONNECTION_OK) {
    *error = PQerrorMessage(conn);
  } else {
    PGresult* r = PQexec(conn, sql.c_str());
    const ExecStatusType status = PQresultStatus(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      *error = PQresultErrorMessage(r);
    } else if (PQntuples(r) > 0 && PQnfields(r) > 0) {
      value = PQgetvalue(r, 0, 0);
    }
    PQclear(r);
  }
  PQfinish(conn);
  return value;
}

}  // namespace beacon::testing
