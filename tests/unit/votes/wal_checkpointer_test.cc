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

}  // namespace
}  // namespace beacon::votes::sqlite
