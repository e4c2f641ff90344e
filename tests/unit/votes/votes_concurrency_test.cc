// SqliteVoteStore under contention: many threads of one process, and several
// processes (fork) on one file. Invariants checked: every voter counted once,
// every acknowledged receipt present with its option and vote id, no caller
// ever sees "busy" under a generous deadline, concurrent first-time
// migration succeeds everywhere.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "temp_dir.h"
#include "votes/sqlite_vote_store.h"

namespace beacon::votes {
namespace {

const std::vector<std::string> kOptions = {"red", "green", "blue"};
constexpr int kGenerousDeadlineMs = 20'000;

// Every voter's choice is a function of the voter, so overlapping callers
// repeat identical votes (never conflicting ones) unless a test says so.
std::string Voter(int v) { return "voter-" + std::to_string(v); }
std::string ChoiceOf(int v) { return kOptions[v % kOptions.size()]; }

SqliteOptions Generous() {
  SqliteOptions options;
  options.busy_deadline_ms = kGenerousDeadlineMs;
  options.max_connections = 4;
  return options;
}

std::unique_ptr<SqliteVoteStore> OpenOrDie(const std::string& path,
                                           SqliteOptions options) {
  Result<std::unique_ptr<SqliteVoteStore>> store = SqliteVoteStore::Open(path, options);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store).value() : nullptr;
}

struct Ack {
  int64_t vote_id;
  std::string voter;
  std::string option;
  bool repeated;
};

// Checks acknowledged receipts against the stored poll: one vote id per
// voter and distinct ids across voters, the stored vote (found by repeating
// it) has the acknowledged id and option, and the totals match exactly.
void ExpectEveryAckCountedOnce(SqliteVoteStore& store, int64_t poll_id,
                               const std::vector<Ack>& acks) {
  std::map<std::string, Ack> by_voter;
  std::map<int64_t, std::string> voter_of_id;
  for (const Ack& a : acks) {
    auto [it, inserted] = by_voter.emplace(a.voter, a);
    if (!inserted) {
      EXPECT_EQ(it->second.vote_id, a.vote_id) << a.voter;
      EXPECT_EQ(it->second.option, a.option) << a.voter;
    }
    auto [id_it, id_new] = voter_of_id.emplace(a.vote_id, a.voter);
    if (!id_new) {
      EXPECT_EQ(id_it->second, a.voter) << "vote id " << a.vote_id << " reused";
    }
  }
  std::map<std::string, int64_t> expected_counts;
  for (const auto& [voter, ack] : by_voter) {
    ++expected_counts[ack.option];
    Result<Receipt> again = store.CastVote(poll_id, voter, ack.option, "checker", 0);
    ASSERT_TRUE(again.ok()) << voter << ": " << again.status().ToString();
    EXPECT_TRUE(again->repeated) << voter;
    EXPECT_EQ(again->vote_id, ack.vote_id) << voter;
  }
  Result<PollResults> results = store.Results(poll_id);
  ASSERT_TRUE(results.ok()) << results.status().ToString();
  EXPECT_EQ(results->total, static_cast<int64_t>(by_voter.size()));
  for (const OptionCount& c : results->counts) {
    EXPECT_EQ(c.votes, expected_counts[c.option]) << c.option;
  }
}

TEST(VotesConcurrency, ThreadsCastingOverlappingVotesCountEachVoterOnce) {
  TempDir dir;
  SqliteOptions options = Generous();
  options.max_connections = 2;  // fewer than the threads: callers queue for connections
  std::unique_ptr<SqliteVoteStore> store = OpenOrDie(dir.File("votes.db"), options);
  ASSERT_NE(store, nullptr);
  Result<Poll> poll = store->CreatePoll("q", kOptions, "", 1);
  ASSERT_TRUE(poll.ok());

  // Thread t votes for voters [t*100, t*100 + 300): each voter is cast by
  // three threads, twice each. Odd threads pick the "wrong" option, so some
  // voters race between two options and exactly one must win.
  constexpr int kThreads = 8;
  std::vector<std::vector<Ack>> acks(kThreads);
  std::vector<std::vector<Status>> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int v = t * 100; v < t * 100 + 300; ++v) {
        const std::string option = kOptions[(v + t % 2) % kOptions.size()];
        for (int attempt = 0; attempt < 2; ++attempt) {
          Result<Receipt> r = store->CastVote(poll->poll_id, Voter(v), option,
                                              "thread-" + std::to_string(t), v);
          if (r.ok()) {
            acks[t].push_back({r->vote_id, r->voter_id, r->option, r->repeated});
          } else {
            errors[t].push_back(r.status());
          }
        }
      }
    });
  }
  // Readers run alongside: totals only grow, and reads never fail.
  std::atomic<bool> writers_done{false};
  std::vector<std::string> read_errors[2];
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&, r] {
      int64_t last_total = 0;
      while (!writers_done.load()) {
        Result<PollResults> results = store->Results(poll->poll_id);
        if (!results.ok()) {
          read_errors[r].push_back(results.status().ToString());
        } else if (results->total < last_total) {
          read_errors[r].push_back("total went down from " + std::to_string(last_total));
        } else {
          last_total = results->total;
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  writers_done = true;
  for (std::thread& th : readers) th.join();
  for (const auto& errors_of_reader : read_errors) {
    EXPECT_TRUE(errors_of_reader.empty()) << errors_of_reader.front();
  }

  std::vector<Ack> all;
  std::set<std::string> first_recorded;
  for (int t = 0; t < kThreads; ++t) {
    for (const Status& s : errors[t]) {
      EXPECT_EQ(s.code(), StatusCode::kAlreadyVoted) << s.ToString();
    }
    for (const Ack& a : acks[t]) {
      if (!a.repeated) {
        EXPECT_TRUE(first_recorded.insert(a.voter).second)
            << a.voter << " recorded twice";
      }
      all.push_back(a);
    }
  }
  const int distinct_voters = (kThreads - 1) * 100 + 300;
  EXPECT_EQ(first_recorded.size(), static_cast<size_t>(distinct_voters));
  ExpectEveryAckCountedOnce(*store, poll->poll_id, all);
}

// --- several processes ---

// Runs body() in `count` forked children that all start at the same moment
// (when the parent closes the start pipe). Each child's exit code is body's
// return value. Returns the exit codes, or fails the test if a child does not
// finish within `limit` (it is then killed).
template <class Body>
std::vector<int> RunChildren(int count, std::chrono::seconds limit, Body body) {
  int start_pipe[2];
  if (pipe(start_pipe) != 0) {
    ADD_FAILURE() << "pipe failed";
    return {};
  }
  std::vector<pid_t> pids;
  for (int i = 0; i < count; ++i) {
    const pid_t pid = fork();
    if (pid == 0) {
      close(start_pipe[1]);
      char byte;
      while (read(start_pipe[0], &byte, 1) < 0) {
      }  // EOF: go
      _exit(body(i));
    }
    if (pid < 0) ADD_FAILURE() << "fork failed";
    if (pid > 0) pids.push_back(pid);
  }
  close(start_pipe[0]);
  close(start_pipe[1]);  // all children start now

  std::vector<int> codes(pids.size(), -1);
  const auto deadline = std::chrono::steady_clock::now() + limit;
  size_t finished = 0;
  while (finished < pids.size()) {
    for (size_t i = 0; i < pids.size(); ++i) {
      if (codes[i] != -1 || pids[i] == 0) continue;
      int wstatus = 0;
      if (waitpid(pids[i], &wstatus, WNOHANG) == pids[i]) {
        codes[i] = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
        ++finished;
      }
    }
    if (finished == pids.size()) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "children did not finish within " << limit.count() << " s";
      for (size_t i = 0; i < pids.size(); ++i) {
        if (codes[i] == -1) {
          kill(pids[i], SIGKILL);
          waitpid(pids[i], nullptr, 0);
        }
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return codes;
}

TEST(VotesConcurrency, ProcessesCastingOverlappingVotesCountEveryAcknowledgedVoteOnce) {
  TempDir dir;
  const std::string path = dir.File("votes.db");
  int64_t poll_id = 0;
  {
    // Created and closed before forking: a child must not inherit an open
    // SQLite connection (SQLite's POSIX locks do not survive fork).
    std::unique_ptr<SqliteVoteStore> store = OpenOrDie(path, Generous());
    ASSERT_NE(store, nullptr);
    Result<Poll> poll = store->CreatePoll("q", kOptions, "", 1);
    ASSERT_TRUE(poll.ok());
    poll_id = poll->poll_id;
  }

  // Child c votes for voters [c*400, c*400 + 800), each twice, with two
  // threads; so every voter is cast by two processes, four times in all.
  constexpr int kProcesses = 3;
  constexpr int kPerChild = 800;
  std::vector<int> codes = RunChildren(kProcesses, std::chrono::seconds(60), [&](int c) {
    std::ofstream out(dir.File("child-" + std::to_string(c) + ".txt"));
    Result<std::unique_ptr<SqliteVoteStore>> opened =
        SqliteVoteStore::Open(path, Generous());
    if (!opened.ok()) {
      out << "E " << opened.status().ToString() << "\n";
      return 1;
    }
    SqliteVoteStore& store = **opened;
    std::atomic<int64_t> max_latency_us{0};
    std::vector<std::string> lines[2];
    auto work = [&](int half) {
      for (int v = c * 400 + half; v < c * 400 + kPerChild; v += 2) {
        for (int attempt = 0; attempt < 2; ++attempt) {
          const auto start = std::chrono::steady_clock::now();
          Result<Receipt> r = store.CastVote(poll_id, Voter(v), ChoiceOf(v),
                                             "process-" + std::to_string(c), v);
          const int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(
                                 std::chrono::steady_clock::now() - start)
                                 .count();
          int64_t seen = max_latency_us.load();
          while (us > seen && !max_latency_us.compare_exchange_weak(seen, us)) {
          }
          std::ostringstream line;
          if (r.ok()) {
            line << "R " << r->vote_id << " " << r->voter_id << " " << r->option << " "
                 << r->repeated;
          } else {
            line << "E " << r.status().ToString();
          }
          lines[half].push_back(line.str());
        }
      }
    };
    std::thread other(work, 1);
    work(0);
    other.join();
    for (const auto& half : lines) {
      for (const std::string& l : half) out << l << "\n";
    }
    out << "L " << max_latency_us.load() << "\n";
    out.close();
    return out ? 0 : 2;
  });
  ASSERT_EQ(codes, std::vector<int>(kProcesses, 0));

  std::vector<Ack> acks;
  int64_t max_latency_us = 0;
  for (int c = 0; c < kProcesses; ++c) {
    std::ifstream in(dir.File("child-" + std::to_string(c) + ".txt"));
    std::string kind;
    int lines = 0;
    while (in >> kind) {
      if (kind == "R") {
        Ack a{};
        in >> a.vote_id >> a.voter >> a.option >> a.repeated;
        acks.push_back(a);
        ++lines;
      } else if (kind == "L") {
        int64_t us = 0;
        in >> us;
        max_latency_us = std::max(max_latency_us, us);
      } else {
        std::string rest;
        std::getline(in, rest);
        ADD_FAILURE() << "child " << c << ": " << kind << rest;  // incl. any busy error
      }
    }
    EXPECT_EQ(lines, kPerChild * 2) << "child " << c;
  }
  std::cout << "[ measured ] max CastVote latency with " << kProcesses
            << " processes x 2 threads writing: " << max_latency_us / 1000.0 << " ms\n";

  std::unique_ptr<SqliteVoteStore> store = OpenOrDie(path, Generous());
  ASSERT_NE(store, nullptr);
  const int distinct_voters = (kProcesses - 1) * 400 + kPerChild;
  std::set<std::string> voters;
  for (const Ack& a : acks) voters.insert(a.voter);
  EXPECT_EQ(voters.size(), static_cast<size_t>(distinct_voters));
  ExpectEveryAckCountedOnce(*store, poll_id, acks);
}

TEST(VotesConcurrency, ProcessesMigratingAFreshFileAtOnceAllSucceed) {
  // Several rounds, each on a new file: the race (several processes creating
  // the file, switching it to WAL and migrating at once) goes wrong only in
  // some interleavings.
  constexpr int kRounds = 5;
  constexpr int kProcesses = 6;
  TempDir dir;
  for (int round = 0; round < kRounds; ++round) {
    const std::string path = dir.File("fresh-" + std::to_string(round) + ".db");
    auto error_file = [&](int c) {
      return dir.File("error-" + std::to_string(round) + "-" + std::to_string(c) +
                      ".txt");
    };
    std::vector<int> codes =
        RunChildren(kProcesses, std::chrono::seconds(30), [&](int c) {
          Result<std::unique_ptr<SqliteVoteStore>> store =
              SqliteVoteStore::Open(path, Generous());
          if (!store.ok()) {
            std::ofstream(error_file(c)) << store.status().ToString();
            return 1;
          }
          // Each child also writes once, so the schema is really usable everywhere.
          Result<Poll> poll = (*store)->CreatePoll("q", {"a", "b"}, "same-request", 1);
          if (!poll.ok()) std::ofstream(error_file(c)) << poll.status().ToString();
          return poll.ok() ? 0 : 3;
        });
    ASSERT_EQ(codes.size(), static_cast<size_t>(kProcesses));
    for (int c = 0; c < kProcesses; ++c) {
      std::ifstream error(error_file(c));
      std::string text((std::istreambuf_iterator<char>(error)), {});
      EXPECT_EQ(codes[c], 0) << "round " << round << ", child " << c << ": " << text;
    }
    std::unique_ptr<SqliteVoteStore> store = OpenOrDie(path, Generous());
    ASSERT_NE(store, nullptr);
    Result<std::vector<Poll>> polls = store->ListPolls(10);
    ASSERT_TRUE(polls.ok()) << polls.status().ToString();
    EXPECT_EQ(polls->size(), 1u);  // one request id, one poll, however many raced
  }
}

}  // namespace
}  // namespace beacon::votes
