// tcpstore_shim.cpp - a tiny C API over PyTorch 2.10.0's c10d::TCPStore, for TcpStore.Akka's interop tests.
//
// Built by the tests themselves (Interop/NativeShim.cs) with
//   g++ -std=c++17 -shared -fPIC tcpstore_shim.cpp -ltorch_cpu -lc10 -Wl,-rpath,<libtorch dir>
// against the libtorch_cpu.so of the NuGet package libtorch-cpu-linux-x64 2.10.0. No PyTorch header is used:
// the few classes below are stand-ins whose only job is to make g++ emit the mangled names that libtorch_cpu.so
// exports (non-virtual calls to exported members; a look-alike options struct whose layout is asserted).
//
// Contract of the C API (all functions are extern "C", none lets a C++ exception escape):
//   * every fallible call returns TS_OK (0) or an error code, and on error stores a malloc'ed, NUL-terminated
//     message "<exception type>: <what()>" in *err (the caller frees it with ts_free);
//   * keys and values are (pointer, length) pairs, binary-safe; lists are parallel arrays of pointers/lengths;
//   * byte results are malloc'ed buffers returned as (pointer, length), freed with ts_free; list results are
//     packed as repeated [u64 little-endian length][bytes];
//   * a store handle is used by any number of threads at once (TCPStore serializes calls with its own mutex) but
//     must not be closed while a call on it is still running.
//
// This file is ours (TcpStore.Akka contributors, Apache-2.0); it reproduces no PyTorch code.

#include <cxxabi.h>
#include <dlfcn.h>
#include <netdb.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

// ------------------------------------------------------------------------------------------------------------
// Stand-in declarations for the 2.10.0 ABI (x86-64, libstdc++ with the C++11 string ABI).
// ------------------------------------------------------------------------------------------------------------
namespace c10d {

// Same members, in the same order and of the same types, as PyTorch 2.10's options struct. The offsets were read
// from the machine code of the 2.10 constructor and of TCPStore::clone (which zero-fills exactly 0x38 bytes); the
// static_asserts keep this declaration honest.
struct TCPStoreOptions {
    std::uint16_t port = 29500;
    bool isServer = false;
    std::optional<std::size_t> numWorkers;
    bool waitWorkers = true;
    std::chrono::milliseconds timeout{300000};
    bool multiTenant = false;
    std::optional<int> masterListenFd;
    bool useLibUV = true;
};
static_assert(offsetof(TCPStoreOptions, port) == 0x00, "TCPStoreOptions::port");
static_assert(offsetof(TCPStoreOptions, isServer) == 0x02, "TCPStoreOptions::isServer");
static_assert(offsetof(TCPStoreOptions, numWorkers) == 0x08, "TCPStoreOptions::numWorkers");
static_assert(offsetof(TCPStoreOptions, waitWorkers) == 0x18, "TCPStoreOptions::waitWorkers");
static_assert(offsetof(TCPStoreOptions, timeout) == 0x20, "TCPStoreOptions::timeout");
static_assert(offsetof(TCPStoreOptions, multiTenant) == 0x28, "TCPStoreOptions::multiTenant");
static_assert(offsetof(TCPStoreOptions, masterListenFd) == 0x2c, "TCPStoreOptions::masterListenFd");
static_assert(offsetof(TCPStoreOptions, useLibUV) == 0x34, "TCPStoreOptions::useLibUV");
static_assert(sizeof(TCPStoreOptions) == 0x38, "sizeof(TCPStoreOptions)");

// TCPStore::clone() returns a c10::intrusive_ptr (one pointer with a non-trivial destructor, hence returned
// through a hidden result pointer). The return type is not part of the mangled name, so this stand-in only has
// to match that calling convention. Its destructor deliberately does nothing: the shim takes over the object.
struct ReturnedPtr {
    void* ptr = nullptr;
    ~ReturnedPtr() {}
};

class Store {
public:
    Store() = delete;
    void setTimeout(const std::chrono::milliseconds& timeout);
};

// Opaque look-alike of c10d::TCPStore: never instantiated by value here, only placement-constructed into a block
// that is at least as large as the real object (0xd8 bytes in 2.10.0: clone() allocates that much).
class TCPStore {
public:
    static constexpr std::size_t kRealSize = 0xd8;
    static constexpr std::size_t kPortOffset = 0x38;      // addr_.port, what the inline getPort() reads
    static constexpr std::size_t kKeyPrefixOffset = 0x88;  // keyPrefix_ (std::string, "/")
    static constexpr std::size_t kUsingLibUvOffset = 0xd0; // usingLibUv_

    TCPStore(std::string host, const TCPStoreOptions& opts);
    ~TCPStore();

    void set(const std::string& key, const std::vector<std::uint8_t>& value);
    std::vector<std::uint8_t> get(const std::string& key);
    std::int64_t add(const std::string& key, std::int64_t value);
    std::vector<std::uint8_t> compareSet(const std::string& key, const std::vector<std::uint8_t>& expected,
                                         const std::vector<std::uint8_t>& desired);
    bool check(const std::vector<std::string>& keys);
    void wait(const std::vector<std::string>& keys);
    void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout);
    bool deleteKey(const std::string& key);
    std::int64_t getNumKeys();
    void append(const std::string& key, const std::vector<std::uint8_t>& value);
    std::vector<std::vector<std::uint8_t>> multiGet(const std::vector<std::string>& keys);
    void multiSet(const std::vector<std::string>& keys, const std::vector<std::vector<std::uint8_t>>& values);
    void queuePush(const std::string& key, const std::vector<std::uint8_t>& value);
    std::vector<std::uint8_t> queuePop(const std::string& key, bool block);
    std::int64_t queueLen(const std::string& key);
    std::vector<std::string> listKeys();
    ReturnedPtr clone();

    TCPStore(const TCPStore&) = delete;
    TCPStore& operator=(const TCPStore&) = delete;

private:
    unsigned char bytes_[kRealSize];
};

}  // namespace c10d

// ------------------------------------------------------------------------------------------------------------
// Reverse DNS. PyTorch formats the local and peer address of every socket it connects or accepts with
// getnameinfo() and without NI_NUMERICHOST, so each connection asks the DNS server for the name of
// ::ffff:127.0.0.1. With dozens of simultaneous connections the resolver drops queries and connects stall for
// its 5 s timeout. The answer only ends up in log text, so the shim forces numeric hosts.
// This definition reaches libtorch only if the shim's own scope is searched before the global one, which is why
// NativeShim.cs loads the shim with dlopen(RTLD_NOW | RTLD_DEEPBIND); ts_getnameinfo_calls() lets the tests
// verify that it did. TCPSTORE_SHIM_REVERSE_DNS=1 keeps PyTorch's original lookups (to measure the stall).
// ------------------------------------------------------------------------------------------------------------
namespace {
std::atomic<long> g_getnameinfo_calls{0};
}

extern "C" __attribute__((visibility("default"))) int getnameinfo(const struct sockaddr* sa, socklen_t salen,
                                                                  char* host, socklen_t hostlen, char* serv,
                                                                  socklen_t servlen, int flags) {
    using Real = int (*)(const struct sockaddr*, socklen_t, char*, socklen_t, char*, socklen_t, int);
    static const Real real = reinterpret_cast<Real>(dlsym(RTLD_NEXT, "getnameinfo"));
    static const bool keep_reverse_dns = [] {
        const char* v = std::getenv("TCPSTORE_SHIM_REVERSE_DNS");
        return v != nullptr && std::strcmp(v, "1") == 0;
    }();
    g_getnameinfo_calls.fetch_add(1, std::memory_order_relaxed);
    if (!keep_reverse_dns) flags |= NI_NUMERICHOST;
    if (real == nullptr) return EAI_SYSTEM;
    return real(sa, salen, host, hostlen, serv, servlen, flags);
}

// ------------------------------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------------------------------
namespace {

enum : int {
    TS_OK = 0,
    TS_ERROR = 1,        // a C++ exception (c10::DistStoreError, c10::DistNetworkError, std::exception...)
    TS_BAD_ARGUMENT = 2, // the shim rejected its arguments before calling PyTorch
};

struct Handle {
    c10d::TCPStore* store;
    void* storage;  // our placement block, or nullptr when PyTorch allocated the object (clone)
};

char* dup_c_string(const std::string& s) {
    char* p = static_cast<char*>(std::malloc(s.size() + 1));
    if (p != nullptr) {
        std::memcpy(p, s.data(), s.size());
        p[s.size()] = '\0';
    }
    return p;
}

std::string demangled(const char* name) {
    int status = 0;
    char* d = abi::__cxa_demangle(name, nullptr, nullptr, &status);
    std::string out = (status == 0 && d != nullptr) ? std::string(d) : std::string(name);
    std::free(d);
    return out;
}

// c10::Error::what() appends the C++ stack ("Exception raised from ... (most recent call first):"); the tests only
// care about the message itself.
std::string strip_backtrace(std::string what) {
    const std::size_t cut = what.find("\nException raised from");
    if (cut != std::string::npos) what.resize(cut);
    while (!what.empty() && (what.back() == '\n' || what.back() == ' ')) what.pop_back();
    return what;
}

void set_error(char** err, const std::string& message) {
    if (err != nullptr) *err = dup_c_string(message);
}

// Runs body and turns any exception into an error code and message. Nothing escapes to the caller.
template <typename F>
int guarded(char** err, F&& body) noexcept {
    if (err != nullptr) *err = nullptr;
    try {
        body();
        return TS_OK;
    } catch (const std::exception& e) {
        try {
            set_error(err, demangled(typeid(e).name()) + ": " + strip_backtrace(e.what()));
        } catch (...) {
        }
        return TS_ERROR;
    } catch (...) {
        try {
            const std::type_info* t = abi::__cxa_current_exception_type();
            set_error(err, (t != nullptr ? demangled(t->name()) : std::string("unknown")) + ": (not a std::exception)");
        } catch (...) {
        }
        return TS_ERROR;
    }
}

std::string to_string(const std::uint8_t* p, std::size_t n) {
    return n == 0 ? std::string() : std::string(reinterpret_cast<const char*>(p), n);
}

std::vector<std::uint8_t> to_bytes(const std::uint8_t* p, std::size_t n) {
    return n == 0 ? std::vector<std::uint8_t>() : std::vector<std::uint8_t>(p, p + n);
}

std::vector<std::string> to_strings(const std::uint8_t* const* ptrs, const std::size_t* lens, std::size_t n) {
    std::vector<std::string> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) out.push_back(to_string(ptrs[i], lens[i]));
    return out;
}

// Hands bytes to the caller as a malloc'ed buffer (never nullptr on success, even when empty).
void give(const void* data, std::size_t n, std::uint8_t** out, std::size_t* out_len) {
    auto* p = static_cast<std::uint8_t*>(std::malloc(n == 0 ? 1 : n));
    if (p == nullptr) throw std::bad_alloc();
    if (n != 0) std::memcpy(p, data, n);
    *out = p;
    *out_len = n;
}

template <typename Seq>
void give_packed(const Seq& items, std::uint8_t** out, std::size_t* out_len) {
    std::vector<std::uint8_t> packed;
    for (const auto& item : items) {
        std::uint64_t n = item.size();
        for (int i = 0; i < 8; ++i) packed.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
        packed.insert(packed.end(), item.begin(), item.end());
    }
    give(packed.data(), packed.size(), out, out_len);
}

c10d::TCPStore& store_of(void* h) {
    if (h == nullptr) throw std::invalid_argument("null store handle");
    return *static_cast<Handle*>(h)->store;
}

}  // namespace

// ------------------------------------------------------------------------------------------------------------
// C API
// ------------------------------------------------------------------------------------------------------------
#define TS_API extern "C" __attribute__((visibility("default")))

// Bumped whenever a signature below changes; NativeShim.cs checks it.
TS_API int ts_abi_version(void) { return 1; }

TS_API long ts_getnameinfo_calls(void) { return g_getnameinfo_calls.load(); }

TS_API void ts_free(void* p) { std::free(p); }

// Creates a TCPStore: a client (is_server = 0) or a PyTorch server plus its own client (is_server = 1; port 0
// picks a free port, ts_port reports it). num_workers < 0 leaves TCPStoreOptions::numWorkers unset.
TS_API int ts_open(const char* host, int port, int is_server, int use_libuv, std::int64_t timeout_ms,
                   std::int64_t num_workers, int wait_workers, void** out_store, char** err) {
    return guarded(err, [&] {
        if (host == nullptr || out_store == nullptr || port < 0 || port > 65535)
            throw std::invalid_argument("ts_open: bad arguments");
        *out_store = nullptr;
        c10d::TCPStoreOptions opts;
        opts.port = static_cast<std::uint16_t>(port);
        opts.isServer = is_server != 0;
        if (num_workers >= 0) opts.numWorkers = static_cast<std::size_t>(num_workers);
        opts.waitWorkers = wait_workers != 0;
        opts.timeout = std::chrono::milliseconds(timeout_ms);
        opts.useLibUV = use_libuv != 0;

        void* storage = ::operator new(sizeof(c10d::TCPStore), std::align_val_t(16));
        c10d::TCPStore* store = nullptr;
        try {
            store = new (storage) c10d::TCPStore(std::string(host), opts);
        } catch (...) {
            ::operator delete(storage, std::align_val_t(16));
            throw;
        }
        *out_store = new Handle{store, storage};
    });
}

// Destroys a store (for a server: stops it, which drops its clients).
TS_API void ts_close(void* h) {
    if (h == nullptr) return;
    auto* handle = static_cast<Handle*>(h);
    try {
        handle->store->~TCPStore();
    } catch (...) {
    }
    if (handle->storage != nullptr)
        ::operator delete(handle->storage, std::align_val_t(16));
    else
        ::operator delete(static_cast<void*>(handle->store));  // allocated by PyTorch (clone) with plain new
    delete handle;
}

TS_API int ts_port(void* h) {
    auto* s = reinterpret_cast<const unsigned char*>(static_cast<Handle*>(h)->store);
    std::uint16_t port;
    std::memcpy(&port, s + c10d::TCPStore::kPortOffset, sizeof port);
    return port;
}

TS_API int ts_is_libuv(void* h) {
    auto* s = reinterpret_cast<const unsigned char*>(static_cast<Handle*>(h)->store);
    return s[c10d::TCPStore::kUsingLibUvOffset] != 0 ? 1 : 0;
}

// Test hook: replaces the client's key prefix ("/" in 2.10) so the tests can read keys the client otherwise never
// names, such as the unprefixed "init/" worker counter. Refuses unless the field at the verified offset really is
// a libstdc++ std::string holding "/" in its inline buffer.
TS_API int ts_set_key_prefix(void* h, const char* prefix, char** err) {
    return guarded(err, [&] {
        auto* base = reinterpret_cast<unsigned char*>(&store_of(h)) + c10d::TCPStore::kKeyPrefixOffset;
        char* data;
        std::size_t size;
        std::memcpy(&data, base, sizeof data);
        std::memcpy(&size, base + sizeof(char*), sizeof size);
        const auto* inline_buffer = base + sizeof(char*) + sizeof(std::size_t);
        if (reinterpret_cast<unsigned char*>(data) != inline_buffer || size != 1 || data[0] != '/')
            throw std::runtime_error("keyPrefix_ is not where PyTorch 2.10 keeps it; refusing to touch it");
        *reinterpret_cast<std::string*>(base) = prefix == nullptr ? "" : prefix;
    });
}

TS_API int ts_clone(void* h, void** out_store, char** err) {
    return guarded(err, [&] {
        *out_store = nullptr;
        c10d::ReturnedPtr p = store_of(h).clone();
        if (p.ptr == nullptr) throw std::runtime_error("clone returned null");
        *out_store = new Handle{static_cast<c10d::TCPStore*>(p.ptr), nullptr};
    });
}

TS_API int ts_set_timeout(void* h, std::int64_t timeout_ms, char** err) {
    return guarded(err, [&] {
        reinterpret_cast<c10d::Store&>(store_of(h)).setTimeout(std::chrono::milliseconds(timeout_ms));
    });
}

TS_API int ts_set(void* h, const std::uint8_t* k, std::size_t kn, const std::uint8_t* v, std::size_t vn,
                  char** err) {
    return guarded(err, [&] { store_of(h).set(to_string(k, kn), to_bytes(v, vn)); });
}

TS_API int ts_get(void* h, const std::uint8_t* k, std::size_t kn, std::uint8_t** out, std::size_t* out_len,
                  char** err) {
    return guarded(err, [&] {
        auto v = store_of(h).get(to_string(k, kn));
        give(v.data(), v.size(), out, out_len);
    });
}

TS_API int ts_add(void* h, const std::uint8_t* k, std::size_t kn, std::int64_t delta, std::int64_t* result,
                  char** err) {
    return guarded(err, [&] { *result = store_of(h).add(to_string(k, kn), delta); });
}

TS_API int ts_compare_set(void* h, const std::uint8_t* k, std::size_t kn, const std::uint8_t* e, std::size_t en,
                          const std::uint8_t* d, std::size_t dn, std::uint8_t** out, std::size_t* out_len,
                          char** err) {
    return guarded(err, [&] {
        auto v = store_of(h).compareSet(to_string(k, kn), to_bytes(e, en), to_bytes(d, dn));
        give(v.data(), v.size(), out, out_len);
    });
}

TS_API int ts_check(void* h, const std::uint8_t* const* keys, const std::size_t* lens, std::size_t n, int* ready,
                    char** err) {
    return guarded(err, [&] { *ready = store_of(h).check(to_strings(keys, lens, n)) ? 1 : 0; });
}

// timeout_ms < 0: the overload without a timeout (uses the store's timeout).
TS_API int ts_wait(void* h, const std::uint8_t* const* keys, const std::size_t* lens, std::size_t n,
                   std::int64_t timeout_ms, char** err) {
    return guarded(err, [&] {
        auto ks = to_strings(keys, lens, n);
        if (timeout_ms < 0)
            store_of(h).wait(ks);
        else
            store_of(h).wait(ks, std::chrono::milliseconds(timeout_ms));
    });
}

TS_API int ts_delete_key(void* h, const std::uint8_t* k, std::size_t kn, int* deleted, char** err) {
    return guarded(err, [&] { *deleted = store_of(h).deleteKey(to_string(k, kn)) ? 1 : 0; });
}

TS_API int ts_num_keys(void* h, std::int64_t* result, char** err) {
    return guarded(err, [&] { *result = store_of(h).getNumKeys(); });
}

TS_API int ts_append(void* h, const std::uint8_t* k, std::size_t kn, const std::uint8_t* v, std::size_t vn,
                     char** err) {
    return guarded(err, [&] { store_of(h).append(to_string(k, kn), to_bytes(v, vn)); });
}

TS_API int ts_multi_get(void* h, const std::uint8_t* const* keys, const std::size_t* lens, std::size_t n,
                        std::uint8_t** out, std::size_t* out_len, char** err) {
    return guarded(err, [&] { give_packed(store_of(h).multiGet(to_strings(keys, lens, n)), out, out_len); });
}

TS_API int ts_multi_set(void* h, const std::uint8_t* const* keys, const std::size_t* klens,
                        const std::uint8_t* const* values, const std::size_t* vlens, std::size_t n, char** err) {
    return guarded(err, [&] {
        std::vector<std::vector<std::uint8_t>> vs;
        vs.reserve(n);
        for (std::size_t i = 0; i < n; ++i) vs.push_back(to_bytes(values[i], vlens[i]));
        store_of(h).multiSet(to_strings(keys, klens, n), vs);
    });
}

TS_API int ts_queue_push(void* h, const std::uint8_t* k, std::size_t kn, const std::uint8_t* v, std::size_t vn,
                         char** err) {
    return guarded(err, [&] { store_of(h).queuePush(to_string(k, kn), to_bytes(v, vn)); });
}

TS_API int ts_queue_pop(void* h, const std::uint8_t* k, std::size_t kn, int block, std::uint8_t** out,
                        std::size_t* out_len, char** err) {
    return guarded(err, [&] {
        auto v = store_of(h).queuePop(to_string(k, kn), block != 0);
        give(v.data(), v.size(), out, out_len);
    });
}

TS_API int ts_queue_len(void* h, const std::uint8_t* k, std::size_t kn, std::int64_t* result, char** err) {
    return guarded(err, [&] { *result = store_of(h).queueLen(to_string(k, kn)); });
}

TS_API int ts_list_keys(void* h, std::uint8_t** out, std::size_t* out_len, char** err) {
    return guarded(err, [&] { give_packed(store_of(h).listKeys(), out, out_len); });
}
