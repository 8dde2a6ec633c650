// torch_serve.cpp - runs PyTorch 2.10's own TCPStore server (libuv backend by default) as a process of its own,
// for tests/TcpStore.Akka.Benchmarks/compare.sh.
//
//   torch_serve [--port P=0] [--host H=127.0.0.1] [--backend libuv|classic]
//
// Starts the server on the port (0 picks a free one), prints "READY <port>" on stdout, and stops on SIGINT or
// SIGTERM (exit 0). Exit 1 if the server could not start.
//
// It reuses the interop tests' shim (tests/TcpStore.Akka.Interop.Tests/native/tcpstore_shim.cpp: our C API over
// c10d::TCPStore, no PyTorch headers), compiled into this executable as its own translation unit. In an
// executable the shim's getnameinfo override interposes libc's for libtorch without any dlopen trick, so PyTorch's
// per-connection reverse-DNS lookup (which stalls bursts of connects) is numeric here, as in the interop tests.
//
// Build (compare.sh does this):
//   g++ -std=c++17 -O2 -pthread torch_serve.cpp ../../TcpStore.Akka.Interop.Tests/native/tcpstore_shim.cpp
//       -L$LIBTORCH -Wl,--no-as-needed -ltorch_cpu -lc10 -Wl,--as-needed -Wl,-rpath,$LIBTORCH -o torch_serve

#include <signal.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

// The shim's C API (see the contract at the top of tcpstore_shim.cpp).
extern "C" {
int ts_abi_version(void);
void ts_free(void* p);
int ts_open(const char* host, int port, int is_server, int use_libuv, std::int64_t timeout_ms,
            std::int64_t num_workers, int wait_workers, void** out_store, char** err);
void ts_close(void* h);
int ts_port(void* h);
int ts_is_libuv(void* h);
long ts_getnameinfo_calls(void);
}

namespace {

int usage() {
    std::fprintf(stderr, "usage: torch_serve [--port P] [--host H] [--backend libuv|classic]\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::string host = "127.0.0.1";
    int port = 0;
    bool libuv = true;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (i + 1 >= argc) return usage();
        const std::string v = argv[++i];
        if (a == "--port") {
            port = std::atoi(v.c_str());
            if (port < 0 || port > 65535) return usage();
        } else if (a == "--host") {
            host = v;
        } else if (a == "--backend") {
            if (v == "libuv") libuv = true;
            else if (v == "classic") libuv = false;
            else return usage();
        } else {
            return usage();
        }
    }
    if (ts_abi_version() != 1) {
        std::fprintf(stderr, "torch_serve: unexpected shim ABI version %d\n", ts_abi_version());
        return 1;
    }

    // Block the stop signals before PyTorch starts its threads, so they inherit the mask and sigwait() below is
    // the only place the signal is taken.
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);

    // Server (plus the one client connection c10d::TCPStore always opens to itself); numWorkers unset,
    // waitWorkers off. The timeout only bounds the server's own client, which makes no calls here.
    void* store = nullptr;
    char* err = nullptr;
    if (ts_open(host.c_str(), port, /*is_server=*/1, libuv ? 1 : 0, /*timeout_ms=*/600000, /*num_workers=*/-1,
                /*wait_workers=*/0, &store, &err) != 0) {
        std::fprintf(stderr, "torch_serve: could not start PyTorch's server: %s\n", err ? err : "(no message)");
        ts_free(err);
        return 1;
    }
    if (libuv && ts_is_libuv(store) == 0) {
        std::fprintf(stderr, "torch_serve: PyTorch did not start the libuv backend\n");
        ts_close(store);
        return 1;
    }
    std::printf("READY %d\n", ts_port(store));
    std::fflush(stdout);
    std::fprintf(stderr, "torch_serve: PyTorch %s server on %s:%d (getnameinfo calls so far: %ld)\n",
                 libuv ? "libuv" : "classic", host.c_str(), ts_port(store), ts_getnameinfo_calls());

    int sig = 0;
    sigwait(&stop, &sig);
    ts_close(store);
    return 0;
}
