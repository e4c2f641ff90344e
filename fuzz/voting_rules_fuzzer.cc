// Differential fuzzing of the voting input validation. The input is a
// program of VotingRules calls (create, vote, results, list, close) with
// arbitrary bytes for every text and number. Each argument list is also
// judged by an independent reference of idl/voting.thrift's limits (its own
// UTF-8 decoder, after Unicode's table of well-formed byte sequences), and:
// - arguments the reference rejects must come back INVALID_ARGUMENT without
//   the store ever seeing them;
// - arguments it accepts must reach the store exactly once, byte for byte,
//   and the store's answer must come back unchanged.
// The store is an in-memory VoteStore with the documented semantics, so
// calls after the first act on real state.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "fuzz_input.h"
#include "votes/voting_rules.h"

namespace beacon::fuzz {
namespace {

using votes::Poll;
using votes::PollResults;
using votes::Receipt;

[[noreturn]] void Fail(const std::string& why) {
  std::fprintf(stderr, "voting_rules_fuzzer: %s\n", why.c_str());
  std::abort();
}

// --- The reference: idl/voting.thrift's limits, written independently. ---

// Length of the well-formed UTF-8 sequence at s[i] that encodes a character
// allowed in text (no C0/C1 controls, no DEL), or 0.
size_t AllowedCharAt(const std::string& s, size_t i) {
  auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const size_t left = s.size() - i;
  const unsigned char b0 = at(i);
  auto cont = [&](size_t k, unsigned char lo, unsigned char hi) {
    return k < s.size() && at(k) >= lo && at(k) <= hi;
  };
  if (b0 <= 0x7F) return (b0 >= 0x20 && b0 != 0x7F) ? 1 : 0;
  if (b0 >= 0xC2 && b0 <= 0xDF && left >= 2 && cont(i + 1, 0x80, 0xBF)) {
    return b0 == 0xC2 && at(i + 1) <= 0x9F ? 0 : 2;  // U+0080..U+009F are C1 controls
  }
  if (left >= 3) {
    bool ok = false;
    if (b0 == 0xE0)
      ok = cont(i + 1, 0xA0, 0xBF);
    else if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF)
      ok = cont(i + 1, 0x80, 0xBF);
    else if (b0 == 0xED)
      ok = cont(i + 1, 0x80, 0x9F);  // no surrogates
    if (ok && cont(i + 2, 0x80, 0xBF)) return 3;
  }
  if (left >= 4) {
    bool ok = false;
    if (b0 == 0xF0)
      ok = cont(i + 1, 0x90, 0xBF);
    else if (b0 >= 0xF1 && b0 <= 0xF3)
      ok = cont(i + 1, 0x80, 0xBF);
    else if (b0 == 0xF4)
      ok = cont(i + 1, 0x80, 0x8F);  // up to U+10FFFF
    if (ok && cont(i + 2, 0x80, 0xBF) && cont(i + 3, 0x80, 0xBF)) return 4;
  }
  return 0;
}

bool IsText(const std::string& s, size_t min_bytes, size_t max_bytes) {
  if (s.size() < min_bytes || s.size() > max_bytes) return false;
  for (size_t i = 0; i < s.size();) {
    const size_t n = AllowedCharAt(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

bool IsRequestId(const std::string& s) {
  if (s.empty()) return true;
  if (s.size() > 64) return false;
  for (unsigned char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool ValidPoll(const std::string& question, const std::vector<std::string>& options,
               const std::string& request_id) {
  if (!IsText(question, 1, 500) || options.size() < 2 || options.size() > 32)
    return false;
  std::set<std::string> seen;
  for (const auto& o : options) {
    if (!IsText(o, 1, 100) || !seen.insert(o).second) return false;
  }
  return IsRequestId(request_id);
}

// --- An in-memory VoteStore that records what it was asked. ---

class RecordingStore final : public votes::VoteStore {
 public:
  int calls = 0;
  std::vector<std::string> last_text;  // the text arguments of the last call
  int64_t last_number = 0;

  Result<Poll> CreatePoll(const std::string& question,
                          const std::vector<std::string>& options,
                          const std::string& request_id, int64_t now_ms) override {
    Record({question, request_id}, 0);
    for (const auto& o : options) last_text.push_back(o);
    if (!request_id.empty()) {
      auto it = by_request_.find(request_id);
      if (it != by_request_.end()) return polls_.at(it->second);
    }
    Poll p{next_poll_id_++, question, options, false, now_ms};
    polls_[p.poll_id] = p;
    if (!request_id.empty()) by_request_[request_id] = p.poll_id;
    return p;
  }

  Result<Receipt> CastVote(int64_t poll_id, const std::string& voter_id,
                           const std::string& option, const std::string& recorded_by,
                           int64_t now_ms) override {
    Record({voter_id, option}, poll_id);
    auto poll = polls_.find(poll_id);
    if (poll == polls_.end()) return NotFound("poll not found");
    bool known = false;
    for (const auto& o : poll->second.options) known |= o == option;
    if (!known) return InvalidArgument("option not in poll");
    auto vote = votes_.find({poll_id, voter_id});
    if (vote != votes_.end() && vote->second.option == option) {
      Receipt r = vote->second;
      r.repeated = true;
      return r;
    }
    if (vote != votes_.end()) return AlreadyVoted("voted for another option");
    if (poll->second.closed) return Conflict("closed");
    Receipt r{next_vote_id_++, poll_id, voter_id, option, now_ms, recorded_by, false};
    votes_[{poll_id, voter_id}] = r;
    return r;
  }

  Result<PollResults> Results(int64_t poll_id) override {
    Record({}, poll_id);
    auto poll = polls_.find(poll_id);
    if (poll == polls_.end()) return NotFound("poll not found");
    PollResults out{poll->second, {}, 0};
    for (const auto& o : poll->second.options) {
      int64_t n = 0;
      for (const auto& [key, r] : votes_)
        n += key.first == poll_id && r.option == o ? 1 : 0;
      out.counts.push_back({o, n});
      out.total += n;
    }
    return out;
  }

  Result<std::vector<Poll>> ListPolls(int limit) override {
    Record({}, limit);
    std::vector<Poll> out;
    for (auto it = polls_.rbegin();
         it != polls_.rend() && static_cast<int>(out.size()) < limit; ++it) {
      out.push_back(it->second);
    }
    return out;
  }

  Result<Poll> ClosePoll(int64_t poll_id) override {
    Record({}, poll_id);
    auto poll = polls_.find(poll_id);
    if (poll == polls_.end()) return NotFound("poll not found");
    poll->second.closed = true;
    return poll->second;
  }

  // Ids of existing polls and their options, so the program can aim at them.
  const std::map<int64_t, Poll>& polls() const { return polls_; }

 private:
  void Record(std::vector<std::string> text, int64_t number) {
    ++calls;
    last_text = std::move(text);
    last_number = number;
  }

  int64_t next_poll_id_ = 1;
  int64_t next_vote_id_ = 1;
  std::map<int64_t, Poll> polls_;
  std::map<std::string, int64_t> by_request_;
  std::map<std::pair<int64_t, std::string>, Receipt> votes_;
};

// Checks one call: `valid` is the reference's verdict, `calls_before` the
// store's call count before it, `expected` what the store must have seen.
template <class T>
void Check(const char* what, const Result<T>& result, bool valid,
           const RecordingStore& store, int calls_before,
           const std::vector<std::string>& expected_text, int64_t expected_number) {
  const bool reached = store.calls == calls_before + 1;
  if (!valid) {
    if (result.ok() || result.status().code() != StatusCode::kInvalidArgument) {
      Fail(std::string(what) + ": invalid arguments not refused with invalid_argument");
    }
    if (store.calls != calls_before)
      Fail(std::string(what) + ": invalid arguments reached the store");
    if (result.status().message().empty())
      Fail(std::string(what) + ": refusal without a message");
    return;
  }
  if (!reached)
    Fail(std::string(what) + ": valid arguments did not reach the store once");
  if (store.last_text != expected_text || store.last_number != expected_number) {
    Fail(std::string(what) + ": the store saw different arguments");
  }
}

// Picks a poll id: mostly an existing one, sometimes anything at all.
int64_t PickPollId(FuzzInput& in, const RecordingStore& store) {
  const uint8_t how = in.Byte();
  if (how < 200 && !store.polls().empty()) {
    auto it = store.polls().begin();
    std::advance(it, how % store.polls().size());
    return it->first;
  }
  return how < 230 ? static_cast<int64_t>(how) - 215 : in.I64();
}

}  // namespace
}  // namespace beacon::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace beacon::fuzz;
  FuzzInput in(data, size);
  RecordingStore store;
  beacon::votes::VotingRules rules(store, "fuzz-replica",
                                   [] { return int64_t{1700000000000}; });
  for (int op = 0; op < 32 && !in.empty(); ++op) {
    const int before = store.calls;
    switch (in.Byte() % 5) {
      case 0: {
        const std::string question = in.String(520);
        std::vector<std::string> options(in.Byte() % 36);
        for (auto& o : options) o = in.String(110);
        const std::string request_id = in.String(70);
        auto r = rules.CreatePoll(question, options, request_id);
        std::vector<std::string> expected = {question, request_id};
        expected.insert(expected.end(), options.begin(), options.end());
        Check("CreatePoll", r, ValidPoll(question, options, request_id), store, before,
              expected, 0);
        // A new poll comes back as asked (a repeated request_id returns the
        // first call's poll, whatever this one asked).
        if (r.ok() && request_id.empty() &&
            (r->question != question || r->options != options)) {
          Fail("CreatePoll: the poll came back changed");
        }
        break;
      }
      case 1: {
        const int64_t poll_id = PickPollId(in, store);
        const std::string voter = in.String(80);
        std::string option = in.String(110);
        auto poll = store.polls().find(poll_id);
        if (poll != store.polls().end() && !option.empty() && option[0] == '#') {
          option = poll->second.options[option.size() % poll->second.options.size()];
        }
        auto r = rules.CastVote(poll_id, voter, option);
        const bool valid = poll_id >= 1 && IsText(voter, 1, 64) && IsText(option, 1, 100);
        Check("CastVote", r, valid, store, before, {voter, option}, poll_id);
        if (r.ok() && (r->voter_id != voter || r->option != option)) {
          Fail("CastVote: the receipt names another vote");
        }
        break;
      }
      case 2: {
        const int64_t poll_id = PickPollId(in, store);
        Check("Results", rules.Results(poll_id), poll_id >= 1, store, before, {},
              poll_id);
        break;
      }
      case 3: {
        const int32_t limit = static_cast<int32_t>(in.U32());
        const int32_t small = static_cast<int32_t>(in.Byte()) - 20;
        const int32_t chosen =
            (limit & 1) ? limit : small * 60;  // around 0..1000 or anything
        const bool valid = chosen >= 0 && chosen <= 1000;
        Check("ListPolls", rules.ListPolls(chosen), valid, store, before, {},
              chosen == 0 ? 100 : chosen);
        break;
      }
      default: {
        const int64_t poll_id = PickPollId(in, store);
        Check("ClosePoll", rules.ClosePoll(poll_id), poll_id >= 1, store, before, {},
              poll_id);
        break;
      }
    }
  }
  return 0;
}
