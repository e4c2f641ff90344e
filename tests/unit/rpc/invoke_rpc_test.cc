// rpc::InvokeRpc: every exception a generated-client call can throw becomes a
// Status; none escapes (the session's calls rely on it).
#include <gtest/gtest.h>

#include <new>

#include "errors_types.h"
#include "rpc/channel.h"

namespace beacon::rpc {
namespace {

using apache::thrift::transport::TTransportException;

const Endpoint kServer{"127.0.0.1", 7001};

template <class Throw>
RpcResult<int> Invoke(Throw&& thrower) {
  return InvokeRpc<int, idl::PrimeError>(kServer, [&]() -> int {
    thrower();
    return 42;
  });
}

TEST(InvokeRpc, ReplyIsReturned) {
  RpcResult<int> r = Invoke([] {});
  ASSERT_TRUE(r.result.ok());
  EXPECT_EQ(*r.result, 42);
  EXPECT_FALSE(r.transport_failure);
  EXPECT_TRUE(r.connection_reusable);
}

TEST(InvokeRpc, ExpectedIdlErrorBecomesItsStatusAndKeepsTheConnection) {
  RpcResult<int> r = Invoke([] {
    idl::PrimeError e;
    e.code = idl::ErrorCode::INVALID_ARGUMENT;
    e.message = "lo must be <= hi";
    throw e;
  });
  EXPECT_EQ(r.result.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.result.status().message(), "lo must be <= hi");
  EXPECT_FALSE(r.transport_failure);
  EXPECT_TRUE(r.connection_reusable);
}

TEST(InvokeRpc, TransportErrorIsUnavailableAndDropsTheConnection) {
  RpcResult<int> r =
      Invoke([] { throw TTransportException(TTransportException::END_OF_FILE); });
  EXPECT_EQ(r.result.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.result.status().message().find("127.0.0.1:7001"), std::string::npos);
  EXPECT_TRUE(r.transport_failure);
  EXPECT_FALSE(r.connection_reusable);
}

TEST(InvokeRpc, AnotherServicesIdlErrorDoesNotEscape) {
  RpcResult<int> r = Invoke([] {
    idl::RegistryError e;
    e.code = idl::ErrorCode::NOT_FOUND;
    e.message = "not mine";
    throw e;
  });
  EXPECT_EQ(r.result.status().code(), StatusCode::kInternal);
  EXPECT_FALSE(r.transport_failure) << "the server is not down";
  EXPECT_FALSE(r.connection_reusable) << "the connection's state is unknown";
}

TEST(InvokeRpc, StandardAndNonStandardExceptionsDoNotEscape) {
  RpcResult<int> oom = Invoke([] { throw std::bad_alloc(); });
  EXPECT_EQ(oom.result.status().code(), StatusCode::kInternal);
  EXPECT_FALSE(oom.connection_reusable);
  RpcResult<int> odd = Invoke([] { throw 7; });
  EXPECT_EQ(odd.result.status().code(), StatusCode::kInternal);
  EXPECT_FALSE(odd.connection_reusable);
}

}  // namespace
}  // namespace beacon::rpc
