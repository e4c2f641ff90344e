// WriterTurn on its own, across processes (fork): mutual exclusion, a killed
// holder passing the turn on, a stopped holder making waiters give up at
// their deadlines, and bad files refused with a typed error.
#include "votes/writer_turn.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "temp_dir.h"

namespace beacon::votes {
namespace {

using Clock = WriterTurn::Clock;
using std::chrono::milliseconds;

Clock::time_point In(milliseconds ms) { return Clock::now() + ms; }

std::unique_ptr<WriterTurn> OpenOrDie(const std::string& path) {
  auto turn = WriterTurn::Open(path, In(milliseconds(5000)));
  if (!turn.ok()) {
    ADD_FAILURE() << turn.status().ToString();
    return nullptr;
  }
  return std::move(turn).value();
}

// A child process that opens the turn, takes it, tells the parent (one byte
// on a pipe) and then holds it until killed.
class Holder {
 public:
  explicit Holder(const std::string& path) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(fds[0]);
      auto turn = WriterTurn::Open(path, In(milliseconds(5000)));
      if (!turn.ok() || !(*turn)->Acquire(In(milliseconds(5000))).ok()) ::_exit(1);
      const char ready = 'r';
      if (::write(fds[1], &ready, 1) != 1) ::_exit(2);
      while (true) ::pause();
    }
    ::close(fds[1]);
    char ready = 0;
    held_ = ::read(fds[0], &ready, 1) == 1;
    ::close(fds[0]);
  }
  ~Holder() { Kill(); }

  bool held() const { return held_; }
  pid_t pid() const { return pid_; }
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  bool held_ = false;
};

TEST(WriterTurn, TwoProcessesNeverHoldTheTurnAtOnce) {
  TempDir dir;
  const std::string path = dir.File("db-writer");
  // Shared with the children: how many hold the turn now, and how often two
  // did at once.
  struct Board {
    std::atomic<int> inside;
    std::atomic<int> overlaps;
    std::atomic<int> turns;
    std::atomic<int> ready;  // children waiting to start together
  };
  void* mapped = ::mmap(nullptr, sizeof(Board), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mapped, MAP_FAILED);
  Board* board = new (mapped) Board{{0}, {0}, {0}, {0}};
  constexpr int kProcesses = 2;
  constexpr int kTurnsEach = 2000;
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto turn = WriterTurn::Open(path, In(milliseconds(5000)));
      if (!turn.ok()) ::_exit(1);
      board->ready.fetch_add(1);
      while (board->ready.load() < kProcesses) std::this_thread::yield();
      for (int i = 0; i < kTurnsEach; ++i) {
        if (!(*turn)->Acquire(In(milliseconds(10000))).ok()) ::_exit(2);
        if (board->inside.fetch_add(1) != 0) board->overlaps.fetch_add(1);
        // Long enough, and giving up the core, for the other to try meanwhile.
        std::this_thread::yield();
        for (volatile int spin = 0; spin < 2000; spin = spin + 1) {
        }
        board->turns.fetch_add(1);
        board->inside.fetch_sub(1);
        (*turn)->Release();
      }
      ::_exit(0);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  EXPECT_EQ(board->turns.load(), kProcesses * kTurnsEach);
  EXPECT_EQ(board->overlaps.load(), 0);
  ::munmap(mapped, sizeof(Board));
}

TEST(WriterTurn, WaiterGetsTheTurnWhenTheHolderReleasesIt) {
  TempDir dir;
  const std::string path = dir.File("db-writer");
  auto first = OpenOrDie(path);
  auto second = OpenOrDie(path);
  ASSERT_TRUE(first && second);
  ASSERT_TRUE(first->Acquire(In(milliseconds(1000))).ok());
  EXPECT_EQ(second->Acquire(In(milliseconds(20))).code(), StatusCode::kUnavailable);
  first->Release();
  EXPECT_TRUE(second->Acquire(In(milliseconds(1000))).ok());
  second->Release();
  EXPECT_EQ(second->stats().timed_out, 1);
  EXPECT_EQ(second->stats().acquired, 1);
}

TEST(WriterTurn, SigkilledHolderLetsTheNextOneIn) {
  TempDir dir;
  const std::string path = dir.File("db-writer");
  Holder holder(path);
  ASSERT_TRUE(holder.held());
  auto turn = OpenOrDie(path);
  ASSERT_TRUE(turn);
  EXPECT_EQ(turn->Acquire(In(milliseconds(50))).code(), StatusCode::kUnavailable);
  holder.Kill();
  ASSERT_TRUE(turn->Acquire(In(milliseconds(5000))).ok());
  EXPECT_EQ(turn->stats().owner_died, 1);
  turn->Release();
  // Marked consistent: usable as before, no longer "owner died".
  ASSERT_TRUE(turn->Acquire(In(milliseconds(1000))).ok());
  turn->Release();
  EXPECT_EQ(turn->stats().owner_died, 1);
  EXPECT_EQ(turn->stats().failed, 0);
}

TEST(WriterTurn, StoppedHolderMakesAWaiterGiveUpAtItsDeadline) {
  TempDir dir;
  const std::string path = dir.File("db-writer");
  Holder holder(path);
  ASSERT_TRUE(holder.held());
  ASSERT_EQ(::kill(holder.pid(), SIGSTOP), 0);
  auto turn = OpenOrDie(path);
  ASSERT_TRUE(turn);
  const auto start = Clock::now();
  const Status s = turn->Acquire(start + milliseconds(150));
  const auto waited = Clock::now() - start;
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("not free within the deadline"), std::string::npos);
  EXPECT_GE(waited, milliseconds(150));
  EXPECT_LT(waited, milliseconds(2000));
  EXPECT_EQ(turn->stats().timed_out, 1);
}

TEST(WriterTurn, ShortFileIsRefusedWithATypedError) {
  TempDir dir;
  const std::string path = dir.File("db-writer");
  std::ofstream(path) << "not a turn";
  auto turn = WriterTurn::Open(path, In(milliseconds(1000)));
  ASSERT_FALSE(turn.ok());
  EXPECT_EQ(turn.status().code(), StatusCode::kInternal);
  EXPECT_NE(turn.status().message().find(path), std::string::npos);
  EXPECT_NE(turn.status().message().find("bytes"), std::string::npos);
}

TEST(WriterTurn, FileWithAnotherMagicIsRefusedWithATypedError) {
  TempDir dir;
  const std::string path = dir.File("db-writer");
  {
    auto good = OpenOrDie(path);  // the right size
    ASSERT_TRUE(good);
  }
  const int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, "garbage!", 8, 0), 8);
  ::close(fd);
  auto turn = WriterTurn::Open(path, In(milliseconds(1000)));
  ASSERT_FALSE(turn.ok());
  EXPECT_EQ(turn.status().code(), StatusCode::kInternal);
  EXPECT_NE(turn.status().message().find("bad magic"), std::string::npos);
}

TEST(WriterTurn, ZeroFilledFileLeftByADeadOpenerIsInitialised) {
  TempDir dir;
  const std::string path = dir.File("db-writer");
  off_t size = 0;
  {
    auto good = OpenOrDie(path);
    ASSERT_TRUE(good);
    size =
        static_cast<off_t>(std::ifstream(path, std::ios::ate | std::ios::binary).tellg());
  }
  ASSERT_EQ(::truncate(path.c_str(), 0), 0);
  ASSERT_EQ(::truncate(path.c_str(), size), 0);  // right size, all zeros
  auto turn = OpenOrDie(path);
  ASSERT_TRUE(turn);
  EXPECT_TRUE(turn->Acquire(In(milliseconds(1000))).ok());
  turn->Release();
}

TEST(WriterTurn, ProcessesOpeningAFreshFileAtOnceShareOneTurn) {
  TempDir dir;
  const std::string path = dir.File("db-writer");
  constexpr int kProcesses = 6;
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto turn = WriterTurn::Open(path, In(milliseconds(5000)));
      if (!turn.ok()) ::_exit(1);
      for (int i = 0; i < 100; ++i) {
        if (!(*turn)->Acquire(In(milliseconds(5000))).ok()) ::_exit(2);
        (*turn)->Release();
      }
      ::_exit(0);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  auto turn = OpenOrDie(path);
  ASSERT_TRUE(turn);
  EXPECT_TRUE(turn->Acquire(In(milliseconds(1000))).ok());
  turn->Release();
}

TEST(WriterTurn, UnopenablePathIsUnavailableNamingIt) {
  TempDir dir;
  const std::string path = dir.File("missing-dir/db-writer");
  auto turn = WriterTurn::Open(path, In(milliseconds(100)));
  ASSERT_FALSE(turn.ok());
  EXPECT_EQ(turn.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(turn.status().message().find(path), std::string::npos);
}

}  // namespace
}  // namespace beacon::votes
