#include "commands.h"

#include <charconv>
#include <iomanip>
#include <random>
#include <sstream>

namespace beacon::client_app {
namespace {

using nlohmann::json;

Result<uint64_t> ParseU64(const std::string& field, const std::string& text) {
  uint64_t v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    return InvalidArgument(
        field + " must be a whole number from 0 to 18446744073709551615, got '" + text +
        "'");
  }
  return v;
}

Result<int64_t> ParsePollId(const std::string& text) {
  int64_t v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || v < 1) {
    return InvalidArgument("POLL must be a poll id (a positive whole number), got '" +
                           text + "'");
  }
  return v;
}

// A fresh request id per createPoll: the retry after a transport failure
// carries the same id, so the poll is created once.
std::string NewRequestId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::ostringstream out;
  out << "req-" << std::hex << std::setw(16) << std::setfill('0') << rng()
      << std::setw(16) << rng();
  return out.str();
}

json PollJson(const idl::Poll& p) {
  return json{{"poll_id", p.poll_id},
              {"question", p.question},
              {"options", p.options},
              {"closed", p.closed},
              {"created_at_ms", p.created_at_ms}};
}

std::string PollLine(const idl::Poll& p) {
  std::string out = "poll " + std::to_string(p.poll_id) + ": " + p.question + " [";
  for (size_t i = 0; i < p.options.size(); ++i) out += (i ? ", " : "") + p.options[i];
  return out + "]" + (p.closed ? " (closed)" : "");
}

CommandOutput Ok(json j, std::string text) {
  CommandOutput out;
  out.json = std::move(j);
  out.text = std::move(text);
  return out;
}

// Runs `call(Session&)` (a typed session call) on the session from
// `sessions`, turning its error into output or its reply into `render`'s.
template <class Call, class Render>
CommandOutput RunCall(const SessionProvider& sessions, Call&& call, Render&& render) {
  auto session = sessions();
  if (!session.ok()) return Failure(session.status());
  auto r = call(**session);
  if (!r.ok()) return Failure(r.status());
  return render(*r);
}

CommandOutput Prime(const std::vector<std::string>& args,
                    const SessionProvider& sessions) {
  auto n = ParseU64("N", args[0]);
  if (!n.ok()) return UsageFailure(n.status());
  return RunCall(
      sessions, [&](client::Session& s) { return s.IsPrime(static_cast<int64_t>(*n)); },
      [&](const idl::PrimeReply& r) {
        const auto v = static_cast<uint64_t>(r.n);
        return Ok(json{{"n", v}, {"is_prime", r.is_prime}, {"served_by", r.served_by}},
                  std::to_string(v) + (r.is_prime ? " is prime" : " is not prime") +
                      "  (served by " + r.served_by + ")");
      });
}

CommandOutput CountPrimes(const std::vector<std::string>& args,
                          const SessionProvider& sessions) {
  auto lo = ParseU64("LO", args[0]);
  if (!lo.ok()) return UsageFailure(lo.status());
  auto hi = ParseU64("HI", args[1]);
  if (!hi.ok()) return UsageFailure(hi.status());
  return RunCall(
      sessions,
      [&](client::Session& s) {
        return s.CountPrimes(static_cast<int64_t>(*lo), static_cast<int64_t>(*hi));
      },
      [&](const idl::CountReply& r) {
        const auto l = static_cast<uint64_t>(r.lo), h = static_cast<uint64_t>(r.hi);
        return Ok(
            json{{"lo", l}, {"hi", h}, {"count", r.count}, {"served_by", r.served_by}},
            std::to_string(r.count) + " primes in [" + std::to_string(l) + ", " +
                std::to_string(h) + "]  (served by " + r.served_by + ")");
      });
}

CommandOutput CreatePoll(const std::vector<std::string>& args,
                         const SessionProvider& sessions) {
  const std::string question = args[0];
  const std::vector<std::string> options(args.begin() + 1, args.end());
  const std::string request_id = NewRequestId();
  return RunCall(
      sessions,
      [&](client::Session& s) { return s.CreatePoll(question, options, request_id); },
      [&](const idl::CreatePollReply& r) {
        return Ok(json{{"poll", PollJson(r.poll)}, {"served_by", r.served_by}},
                  "created " + PollLine(r.poll) + "  (served by " + r.served_by + ")");
      });
}

CommandOutput Vote(const std::vector<std::string>& args,
                   const SessionProvider& sessions) {
  auto poll = ParsePollId(args[0]);
  if (!poll.ok()) return UsageFailure(poll.status());
  return RunCall(
      sessions, [&](client::Session& s) { return s.CastVote(*poll, args[1], args[2]); },
      [&](const idl::VoteReceipt& r) {
        return Ok(json{{"vote_id", r.vote_id},
                       {"poll_id", r.poll_id},
                       {"voter_id", r.voter_id},
                       {"option", r.option},
                       {"cast_at_ms", r.cast_at_ms},
                       {"recorded_by", r.recorded_by},
                       {"repeated", r.repeated},
                       {"served_by", r.served_by}},
                  std::string(r.repeated ? "already recorded" : "recorded") + " vote " +
                      std::to_string(r.vote_id) + ": " + r.voter_id + " -> " + r.option +
                      " in poll " + std::to_string(r.poll_id) + "  (recorded by " +
                      r.recorded_by + ", served by " + r.served_by + ")");
      });
}

CommandOutput Results(const std::vector<std::string>& args,
                      const SessionProvider& sessions) {
  auto poll = ParsePollId(args[0]);
  if (!poll.ok()) return UsageFailure(poll.status());
  return RunCall(
      sessions, [&](client::Session& s) { return s.Results(*poll); },
      [&](const idl::PollResults& r) {
        json counts = json::array();
        std::string text = PollLine(r.poll) + "\n";
        for (const auto& c : r.counts) {
          counts.push_back(json{{"option", c.option}, {"votes", c.votes}});
          text += "  " + c.option + ": " + std::to_string(c.votes) + "\n";
        }
        text +=
            "  total: " + std::to_string(r.total) + "  (served by " + r.served_by + ")";
        return Ok(json{{"poll", PollJson(r.poll)},
                       {"counts", counts},
                       {"total", r.total},
                       {"served_by", r.served_by}},
                  text);
      });
}

CommandOutput Polls(const std::vector<std::string>& args,
                    const SessionProvider& sessions) {
  int32_t limit = 0;
  if (!args.empty()) {
    auto l = ParseU64("LIMIT", args[0]);
    if (!l.ok() || *l < 1 || *l > 1000) {
      return UsageFailure(
          InvalidArgument("LIMIT must be 1..1000, got '" + args[0] + "'"));
    }
    limit = static_cast<int32_t>(*l);
  }
  return RunCall(
      sessions, [&](client::Session& s) { return s.ListPolls(limit); },
      [&](const idl::PollList& r) {
        json polls = json::array();
        std::string text;
        for (const auto& p : r.polls) {
          polls.push_back(PollJson(p));
          text += PollLine(p) + "\n";
        }
        text +=
            std::to_string(r.polls.size()) + " poll(s)  (served by " + r.served_by + ")";
        return Ok(json{{"polls", polls}, {"served_by", r.served_by}}, text);
      });
}

CommandOutput ClosePoll(const std::vector<std::string>& args,
                        const SessionProvider& sessions) {
  auto poll = ParsePollId(args[0]);
  if (!poll.ok()) return UsageFailure(poll.status());
  return RunCall(
      sessions, [&](client::Session& s) { return s.ClosePoll(*poll); },
      [&](const idl::ClosePollReply& r) {
        return Ok(json{{"poll", PollJson(r.poll)}, {"served_by", r.served_by}},
                  "closed " + PollLine(r.poll) + "  (served by " + r.served_by + ")");
      });
}

CommandOutput Servers(const std::vector<std::string>& args,
                      const SessionProvider& sessions) {
  auto session = sessions();
  if (!session.ok()) return Failure(session.status());
  discovery::ServerCache& cache = (*session)->cache();
  std::vector<std::string> services;
  if (!args.empty()) {
    services.push_back(args[0]);
  } else {
    services = cache.Services();
    if (services.empty()) services = {"prime", "voting"};
  }
  json out_services = json::array();
  std::string text;
  int64_t lookups = 0;
  for (const auto& name : services) {
    // A service this session has not used yet is looked up now, so the
    // command shows what the balancer would see.
    if (Status s = cache.Load(name); !s.ok()) return Failure(s);
    const discovery::ServiceView v = cache.View(name);
    lookups += v.registry_lookups;
    // Where the list came from: a registry, or (stale) the snapshot on disk.
    const std::string source =
        v.from_snapshot ? "snapshot" : (*session)->registry().SourceOf(name);
    json instances = json::array();
    text +=
        "service " + v.service_name + ": version " + std::to_string(v.version) + ", " +
        std::to_string(v.instances.size()) + " instance(s), cache age " +
        std::to_string(v.age_ms) + " ms, " +
        (v.from_snapshot ? std::string("STALE from the snapshot on disk (no registry "
                                       "answered), ")
                         : "from registry " + source + ", ") +
        std::to_string(v.registry_lookups) + " registry lookup(s), " +
        std::to_string(v.watch_updates) + " watch update(s), " + v.balancer +
        (v.holding_last_list ? " (the registry lists none: keeping the last list)" : "") +
        "\n";
    for (const auto& i : v.instances) {
      instances.push_back(json{{"id", i.instance.id},
                               {"host", i.instance.host},
                               {"port", i.instance.port},
                               {"metadata", i.instance.metadata},
                               {"calls", i.calls},
                               {"failures", i.failures},
                               {"down", i.down},
                               {"down_remaining_ms", i.down_remaining_ms}});
      text +=
          "  " + i.instance.id + "  " + i.instance.host + ":" +
          std::to_string(i.instance.port) + "  calls " + std::to_string(i.calls) +
          (i.failures ? "  failures " + std::to_string(i.failures) : "") +
          (i.down ? "  DOWN (" + std::to_string(i.down_remaining_ms) + " ms left)" : "") +
          "\n";
    }
    out_services.push_back(json{{"service_name", v.service_name},
                                {"version", v.version},
                                {"age_ms", v.age_ms},
                                {"registry_lookups", v.registry_lookups},
                                {"watch_updates", v.watch_updates},
                                {"holding_last_list", v.holding_last_list},
                                {"source", source},
                                {"stale", v.from_snapshot},
                                {"balancer", v.balancer},
                                {"instances", instances}});
  }
  // Hedging: what this session sent, and the delay each service waits now.
  const client::Failover& failover = (*session)->failover();
  json delays = json::object();
  text += "hedging " + client::HedgeName(failover.hedge_options()) + ": " +
          std::to_string(failover.hedges_sent()) + " hedge(s) sent, " +
          std::to_string(failover.hedges_won()) + " answered first";
  if (failover.hedge_options().mode != client::HedgeMode::kOff) {
    text += ", delay";
    for (const auto& name : services) {
      const int64_t us = failover.hedge_delay_us(name);
      delays[name] = us;
      text += " " + name + " " + std::to_string(us / 1000) + "." +
              std::to_string(us / 100 % 10) + " ms";
    }
  }
  return Ok(json{{"registry", (*session)->registry().Address()},
                 {"registry_in_use", (*session)->registry().CurrentAddress()},
                 {"registry_lookups", lookups},
                 {"services", out_services},
                 {"hedging",
                  {{"mode", client::HedgeName(failover.hedge_options())},
                   {"hedges_sent", failover.hedges_sent()},
                   {"hedges_won", failover.hedges_won()},
                   {"delay_us", delays}}}},
            text);
}

}  // namespace

CommandOutput Failure(const Status& status) {
  CommandOutput out;
  out.error = status;
  switch (status.code()) {
    case StatusCode::kUnavailable:
      out.exit_code = kExitUnavailable;
      break;
    default:
      out.exit_code = kExitServiceError;
      break;
  }
  return out;
}

CommandOutput UsageFailure(const Status& status) {
  CommandOutput out;
  out.error = status;
  out.exit_code = kExitUsage;
  return out;
}

const std::vector<CommandSpec>& Commands() {
  static const std::vector<CommandSpec> commands = {
      {"prime", "prime N", "is N (0..2^64-1) prime?",
       "Asks a replica of the 'prime' service; exact for every 64-bit N.", 1, 1, Prime},
      {"count-primes", "count-primes LO HI", "how many primes in [LO, HI]",
       "A heavier call: HI-LO+1 may be at most 10,000,000.", 2, 2, CountPrimes},
      {"create-poll", "create-poll QUESTION OPTION OPTION...", "create a poll",
       "2-32 distinct options. Safe to retry: the call carries a request id.", 3, 33,
       CreatePoll},
      {"vote", "vote POLL VOTER OPTION", "cast VOTER's vote",
       "One vote per voter and poll; repeating the same vote returns the original "
       "receipt;\n"
       "another option from the same voter is refused (already_voted).",
       3, 3, Vote},
      {"results", "results POLL", "counts per option",
       "Any replica sees every acknowledged vote.", 1, 1, Results},
      {"polls", "polls [LIMIT]", "list polls, newest first",
       "LIMIT 1..1000, default 100.", 0, 1, Polls},
      {"close-poll", "close-poll POLL", "close a poll to further votes", "Idempotent.", 1,
       1, ClosePoll},
      {"servers", "servers [SERVICE]", "the session's cached server list",
       "Instances as the balancer sees them: membership version, cache age, how many "
       "times\n"
       "this session asked the registry, per-instance calls and down marks; hedges "
       "sent\nand won, and the hedge delay per service.",
       0, 1, Servers},
  };
  return commands;
}

const CommandSpec* FindCommand(const std::string& name) {
  for (const auto& c : Commands()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

Result<std::vector<std::string>> SplitWords(const std::string& line) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < line.size()) {
        cur += line[++i];
      } else {
        cur += c;
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < line.size()) {
      cur += line[++i];
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\r') {
      if (in_word) words.push_back(std::move(cur));
      cur.clear();
      in_word = false;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (quote) return InvalidArgument(std::string("unterminated ") + quote + " quote");
  if (in_word) words.push_back(std::move(cur));
  return words;
}

}  // namespace beacon::client_app
