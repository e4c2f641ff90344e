// Clang thread-safety annotations
// (https://clang.llvm.org/docs/ThreadSafetyAnalysis.html), as LevelDB's
// port/thread_annotations.h and Abseil's base/thread_annotations.h define them. With
// clang and -Wthread-safety (CMake option BEACON_THREAD_SAFETY_ANALYSIS=ON, run by
// scripts/test) the compiler checks that every GUARDED_BY field is touched only with its
// mutex held; with other compilers they expand to nothing.
#pragma once

#if defined(__clang__)
#define BEACON_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define BEACON_THREAD_ANNOTATION(x)
#endif

// On a type: instances are a capability (a mutex).
#define CAPABILITY(x) BEACON_THREAD_ANNOTATION(capability(x))
// On an RAII type that acquires a capability in its constructor and releases
// it in its destructor.
#define SCOPED_CAPABILITY BEACON_THREAD_ANNOTATION(scoped_lockable)
// On a field: read and written only with the given mutex held.
#define GUARDED_BY(x) BEACON_THREAD_ANNOTATION(guarded_by(x))
// On a pointer field: the pointee is read and written only with the mutex held.
#define PT_GUARDED_BY(x) BEACON_THREAD_ANNOTATION(pt_guarded_by(x))
// On a mutex field: must be acquired after / before the given ones.
#define ACQUIRED_AFTER(...) BEACON_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define ACQUIRED_BEFORE(...) BEACON_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
// On a function: callers must hold / must not hold the mutexes.
#define REQUIRES(...) BEACON_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) BEACON_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
// On a function: it acquires / releases the mutexes (this, when none given).
#define ACQUIRE(...) BEACON_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) BEACON_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
// On a function: the analysis may assume the mutex is held after it returns.
#define ASSERT_CAPABILITY(x) BEACON_THREAD_ANNOTATION(assert_capability(x))
// On a function returning a mutex reference.
#define RETURN_CAPABILITY(x) BEACON_THREAD_ANNOTATION(lock_returned(x))
// Turns the analysis off for one function; say why where it is used.
#define NO_THREAD_SAFETY_ANALYSIS BEACON_THREAD_ANNOTATION(no_thread_safety_analysis)
