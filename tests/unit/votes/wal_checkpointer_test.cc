// WalCheckpointer on its own: which checkpoints a due round runs. A RESTART
// holds every replica's writers back while it syncs, so it must not run on
// a WAL another replica has rewound meanwhile.
#include "votes/wal_checkpointer.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <string>
#include <thread>

#include "temp_dir.h"
#include "unit/poll_until.h"

namespace beacon::votes::sqlite {
namespace {

constexpr int kRestartAfter = 100;

CheckpointOptions SmallTriggers() {
  CheckpointOptions options;
  options.passive_after_frames = 50;
  options.restart_after_frames = kRestartAfter;
  options.busy_ms = 5000;
  return options;
}

TimePoint InAnHour() { return SteadyClock::now() + std::chrono::hours(1); }

class WalCheckpointerTest : public ::testing::Test {
 protected:
  WalCheckpointerTest()
      : path_(dir_.File("votes.db")), writer_(path_, InAnHour(), nullptr) {
    writer_.db().exec("CREATE TABLE t (x BLOB)");
  }

  // Appends `rows` one-page rows, one transaction each: at least that many
  // WAL frames (automatic checkpoints are off on a Connection).
  void AppendFrames(int rows) {
    for (int i = 0; i < rows; ++i)
      writer_.db().exec("INSERT INTO t VALUES (randomblob(3000))");
  }

  TempDir dir_;
  const std::string path_;
  Connection writer_;  // another replica's connection, as far as the checkpointer knows
};

TEST_F(WalCheckpointerTest, RestartRunsOnceTheWalReachesItsTrigger) {
  AppendFrames(2 * kRestartAfter);
  WalCheckpointer checkpointer(path_, SmallTriggers());
  checkpointer.WalFrames(2 * kRestartAfter);

  ASSERT_TRUE(testing::PollUntil([&] { return checkpointer.stats().restart == 1; }))
      << "skipped " << checkpointer.stats().skipped << ", "
      << checkpointer.stats().last_error;
  EXPECT_EQ(checkpointer.stats().failed, 0);
  EXPECT_EQ(checkpointer.stats().restart_avoided, 0);
}

TEST_F(WalCheckpointerTest, NoRestartRetriedOnAWalAnotherReplicaRewound) {
  AppendFrames(2 * kRestartAfter);
  // Another replica's TRUNCATE checkpoint (it rewinds the WAL as it ends)
  // holds SQLite's checkpoint lock while it waits for a writer.
  writer_.Begin(/*write=*/true);
  std::thread other_replica([this] {
    Connection c(path_, InAnHour(), nullptr);
    // SQLite's checkpoint lock is taken without waiting: retried while the
    // probe below holds it for a moment.
    int rc = SQLITE_BUSY;
    while (rc == SQLITE_BUSY) {
      rc = sqlite3_wal_checkpoint_v2(c.db().getHandle(), "main",
                                     SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
    }
    EXPECT_EQ(rc, SQLITE_OK);
  });
  Connection probe(path_, InAnHour(), nullptr);
  ASSERT_TRUE(testing::PollUntil([&] {
    return sqlite3_wal_checkpoint_v2(probe.db().getHandle(), "main",
                                     SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                     nullptr) == SQLITE_BUSY;
  }));

  // This process's last commit saw the WAL long: a RESTART is due, and finds
  // the other checkpoint running.
  WalCheckpointer checkpointer(path_, SmallTriggers());
  checkpointer.WalFrames(3 * kRestartAfter);
  ASSERT_TRUE(testing::PollUntil([&] { return checkpointer.stats().skipped >= 1; }));
  writer_.Rollback();
  other_replica.join();

  ASSERT_TRUE(testing::PollUntil([&] {
    return checkpointer.stats().restart_avoided == 1;
  })) << "restart "
      << checkpointer.stats().restart << ", passive " << checkpointer.stats().passive;
  EXPECT_EQ(checkpointer.stats().restart, 0);
  EXPECT_EQ(checkpointer.stats().failed, 0);
}

TEST_F(WalCheckpointerTest, ReaderOfAnOldSnapshotHoldsWritersBackOnlyBriefly) {
  AppendFrames(2 * kRestartAfter);
  // A reader keeps an old snapshot (as a replica stopped inside a read
  // would): a RESTART cannot finish while it does, and SQLite holds new
  // writers back while a RESTART waits.
  Connection reader(path_, InAnHour(), nullptr);
  reader.Begin(/*write=*/false);
  reader.db().execAndGet("SELECT count(*) FROM t");
  CheckpointOptions options = SmallTriggers();  // busy_ms 5 s
  options.restart_wait_ms = 50;
  WalCheckpointer checkpointer(path_, options);
  checkpointer.WalFrames(2 * kRestartAfter);

  // Writes go on meanwhile; none waits anywhere near busy_ms (before the
  // RESTART's wait was bounded, each RESTART held them for all of it).
  std::chrono::steady_clock::duration slowest{};
  int frames = 2 * kRestartAfter;
  const auto end_after_blocked = [&] {
    return checkpointer.stats().restart_blocked >= 3;
  };
  for (int i = 0; i < 100000 && !end_after_blocked(); ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    AppendFrames(1);
    slowest = std::max(slowest, std::chrono::steady_clock::now() - t0);
    checkpointer.WalFrames(++frames);
  }
  ASSERT_TRUE(end_after_blocked()) << "restarts " << checkpointer.stats().restart;
  EXPECT_LT(slowest, std::chrono::milliseconds(options.busy_ms / 2));
  EXPECT_EQ(checkpointer.stats().restart, 0);

  // The reader ends: after the pause the RESTART runs and the pauses end.
  reader.Rollback();
  ASSERT_TRUE(testing::PollUntil([&] { return checkpointer.stats().restart >= 1; }))
      << "blocked " << checkpointer.stats().restart_blocked << ", "
      << checkpointer.stats().last_error;
  EXPECT_EQ(checkpointer.stats().failed, 0);
}

}  // namespace
}  // namespace beacon::votes::sqlite
