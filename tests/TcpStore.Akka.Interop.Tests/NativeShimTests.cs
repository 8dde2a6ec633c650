using System.Diagnostics;
using Xunit.Abstractions;

namespace TcpStore.Akka.Interop.Tests;

/// <summary>
/// The harness itself: the shim builds and loads, talks to the real 2.10 objects, and keeps PyTorch's reverse-DNS
/// lookups off the resolver (otherwise bursts of connects stall for seconds and the many-client tests measure DNS).
/// </summary>
public sealed class NativeShimTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Shim_drives_a_real_PyTorch_libuv_server_and_client()
    {
        var shim = NativeShim.Instance;
        Assert.True(File.Exists(shim.LibraryPath), shim.LibraryPath);
        Assert.True(File.Exists(Path.Combine(shim.LibTorchDir, "libtorch_cpu.so")));

        using var server = await TorchStore.StartServerAsync(useLibUv: true, Timeout);
        Assert.True(server.IsLibUvBackend);
        Assert.InRange(server.Port, 1, 65535);
        using var client = await TorchStore.ConnectAsync("127.0.0.1", server.Port, Timeout);
        Assert.Equal(server.Port, client.Port);
        await client.SetAsync("shim/k", "v");
        Assert.Equal("v", await server.GetStringAsync("shim/k"));
    }

    [Fact]
    public async Task Shim_drives_PyTorchs_classic_server_too()
    {
        using var server = await TorchStore.StartServerAsync(useLibUv: false, Timeout);
        Assert.False(server.IsLibUvBackend);
        using var client = await TorchStore.ConnectAsync("127.0.0.1", server.Port, Timeout, useLibUv: false);
        Assert.Equal(7, await client.AddAsync("shim/n", 7));
        Assert.Equal("7", await server.GetStringAsync("shim/n"));
    }

    [Fact]
    public async Task Cpp_exceptions_arrive_as_TorchStoreException_with_type_and_message()
    {
        // A client with the classic flag refuses queues locally (before touching the wire).
        using var server = await TorchStore.StartServerAsync(useLibUv: true, Timeout);
        using var classic = await TorchStore.ConnectAsync("127.0.0.1", server.Port, Timeout, useLibUv: false);
        var e = await Assert.ThrowsAsync<TorchStoreException>(() => classic.QueueLenAsync("shim/q"));
        Assert.Contains("queues not implemented on legacy TCPStore backend", e.Detail);
        Assert.StartsWith("c10::", e.ErrorType);

        // Connection refused: the constructor retries until its timeout, then gives up with c10d::TimeoutError
        // (a DistNetworkError).
        var port = server.Port;
        server.Dispose();
        var refused = await Assert.ThrowsAsync<TorchStoreException>(
            () => TorchStore.ConnectAsync("127.0.0.1", port, TimeSpan.FromMilliseconds(300)));
        Assert.Equal("c10d::TimeoutError", refused.ErrorType);
        Assert.Contains("has timed out after 300ms while trying to connect to (127.0.0.1, " + port + ")", refused.Detail);
    }

    [Fact]
    public async Task Reverse_dns_lookups_go_through_the_shim_and_64_concurrent_connects_are_fast()
    {
        using var server = await TorchStore.StartServerAsync(useLibUv: true, Timeout);
        var before = NativeShim.Instance.GetNameInfoCalls;
        var sw = Stopwatch.StartNew();
        var clients = await Task.WhenAll(
            Enumerable.Range(0, 64).Select(_ => TorchStore.ConnectAsync("127.0.0.1", server.Port, Timeout)));
        sw.Stop();
        output.WriteLine($"64 concurrent connects: {sw.Elapsed.TotalMilliseconds:0} ms");
        try
        {
            // Client and server each format the addresses of every new connection.
            Assert.True(
                NativeShim.Instance.GetNameInfoCalls - before >= 64,
                "libtorch did not call the shim's getnameinfo: was the shim loaded without RTLD_DEEPBIND?");
            // With reverse DNS each burst waits for the resolver's 5 s timeout; numeric lookups take milliseconds.
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(4), $"64 concurrent connects took {sw.Elapsed}");
        }
        finally
        {
            foreach (var c in clients) c.Dispose();
        }
    }
}
