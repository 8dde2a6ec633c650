using System.Diagnostics;
using System.Net;
using Akka.Actor;
using Akka.Configuration;
using TcpStore.Akka.Configuration;
using TcpStore.Akka.Hosting;
using TcpStore.TestSupport;
using Xunit.Abstractions;
using static TcpStore.TestSupport.Wire;

namespace TcpStore.Akka.Tests.Hosting;

/// <summary>
/// Many stores in one actor system (<see cref="TcpStoreManager"/>): created and removed at run time, apart from each
/// other, each with its own limits; never half made; and 1,000 of them created and removed with no leak.
/// Alone, like the metrics tests: the leak test counts the process's descriptors and threads, which other classes'
/// servers would change under it (it saw 1,998 more descriptors once, with a socket-level class running beside it).
/// </summary>
[Collection(Telemetry.MetricsCollection.Name)]
public sealed class StoreManagerTests(ITestOutputHelper output) : IAsyncLifetime
{
    private ActorSystem _system = null!;
    private TcpStoreManagerClient _stores = null!;

    public async Task InitializeAsync()
    {
        _system = ActorSystem.Create("stores-test", ConfigurationFactory.ParseString("""
            akka.loglevel = WARNING
            akka.log-dead-letters = off
            tcpstore { host = "127.0.0.1", port = 0, max-stores = 1005 }
            tcpstore.stores.limited { limits.max-key-bytes = 8 }
            """));
        await _system.StartTcpStoreAsync(); // "default", as WithTcpStore starts it
        _stores = TcpStoreManagerClient.For(_system);
    }

    public async Task DisposeAsync() => await _system.Terminate();

    private async Task<int> CreateAsync(string name, TcpStoreOptions? options = null) =>
        ((IPEndPoint)await _stores.CreateStoreAsync(name, options)).Port;

    [Fact]
    public async Task Two_stores_with_the_same_keys_stay_apart()
    {
        var a = await CreateAsync("job-a");
        var b = await CreateAsync("job-b");
        Assert.NotEqual(a, b);
        await using var ca = await RawClient.ConnectAsync(a);
        await using var cb = await RawClient.ConnectAsync(b);
        await ca.SendAsync(Set("/rank/0/addr", "node-a"), Add("/arrived", 1));
        Assert.Equal(1, await ca.ReadInt64Async());
        await cb.SendAsync(Add("/arrived", 5), Get("/rank/0/addr"), GetNumKeys());
        Assert.Equal(5, await cb.ReadInt64Async());
        Assert.Equal("", await cb.ReadStringAsync()); // job-a's key is not in job-b
        Assert.Equal(1, await cb.ReadInt64Async());

        var list = await _stores.ListStoresAsync();
        Assert.Equal(["default", "job-a", "job-b"], list.Select(s => s.Name));
        Assert.Equal((2, 1), (list.Single(s => s.Name == "job-a").Keys, list.Single(s => s.Name == "job-b").Keys));
        Assert.Equal(1, list.Single(s => s.Name == "job-a").Connections);
        Assert.Equal(a, ((IPEndPoint)list.Single(s => s.Name == "job-a").Address!).Port);
    }

    [Fact]
    public async Task Removing_a_store_drops_its_waiting_clients_frees_its_port_and_forgets_its_keys()
    {
        var port = await CreateAsync("job-gone");
        await using var writer = await RawClient.ConnectAsync(port);
        await using var waiter = await RawClient.ConnectAsync(port);
        await writer.SendAsync(Set("/k", "v"), Ping(1));
        Assert.Equal(1u, await writer.ReadUInt32Async());
        await waiter.SendAsync(Wait("/never"), Ping(2));
        Assert.Equal(2u, await waiter.ReadUInt32Async()); // the WAIT is registered
        await using var other = await RawClient.ConnectAsync(await CreateAsync("job-stays"));

        Assert.True(await _stores.RemoveStoreAsync("job-gone"));

        Assert.True(await waiter.ClosedByServerAsync());
        Assert.True(await writer.ClosedByServerAsync());
        await Assert.ThrowsAnyAsync<System.Net.Sockets.SocketException>(() => RawClient.ConnectAsync(port));
        Assert.DoesNotContain("job-gone", (await _stores.ListStoresAsync()).Select(s => s.Name));
        await other.SendAsync(Ping(3)); // another store did not notice
        Assert.Equal(3u, await other.ReadUInt32Async());

        // The name is free again, and the new store starts empty.
        await using var again = await RawClient.ConnectAsync(await CreateAsync("job-gone", new TcpStoreOptions { Port = port }));
        await again.SendAsync(Get("/k"));
        Assert.Equal("", await again.ReadStringAsync());
        Assert.False(await _stores.RemoveStoreAsync("no-such-store"));
    }

    [Theory]
    [InlineData("default", "exists")]
    [InlineData("bad name", "is not a store name")]
    [InlineData("-dash-first", "is not a store name")]
    [InlineData("", "is not a store name")]
    public async Task A_bad_or_taken_name_is_refused_clearly(string name, string reason)
    {
        var error = await Assert.ThrowsAsync<TcpStoreStartException>(() => _stores.CreateStoreAsync(name));
        Assert.Contains(reason, error.Reason);
    }

    [Fact]
    public async Task A_port_in_use_is_refused_and_leaves_no_store_behind()
    {
        var taken = await CreateAsync("first");
        var error = await Assert.ThrowsAsync<TcpStoreStartException>(
            () => _stores.CreateStoreAsync("second", new TcpStoreOptions { Port = taken }));
        Assert.Contains("could not bind", error.Reason);
        Assert.DoesNotContain("second", (await _stores.ListStoresAsync()).Select(s => s.Name));
        await CreateAsync("second"); // and the name is free
    }

    [Fact]
    public async Task Each_store_has_its_own_limits_from_its_own_section_and_its_options()
    {
        await using (var limited = await RawClient.ConnectAsync(await CreateAsync("limited")))
        {
            await limited.SendAsync(Set("/123456789", "key over 8 bytes"));
            Assert.True(await limited.ClosedByServerAsync());
        }

        var port = await CreateAsync("tight", new TcpStoreOptions { MaxConnections = 1 });
        await using var first = await RawClient.ConnectAsync(port);
        await first.SendAsync(Ping(1));
        Assert.Equal(1u, await first.ReadUInt32Async());
        await using (var second = await RawClient.ConnectAsync(port))
            Assert.True(await second.ClosedByServerAsync());

        await using var roomy = await RawClient.ConnectAsync(await CreateAsync("roomy"));
        await roomy.SendAsync(Set("/123456789", "fine here"), Get("/123456789"));
        Assert.Equal("fine here", await roomy.ReadStringAsync());
    }

    [Fact]
    public async Task The_stores_share_one_cap_on_connections()
    {
        await using var system = new DisposableSystem(ActorSystem.Create("cap-test", ConfigurationFactory.ParseString("""
            akka.loglevel = WARNING
            tcpstore { host = "127.0.0.1", port = 0, limits.max-total-connections = 2 }
            """)));
        await system.System.StartTcpStoreAsync();
        var stores = TcpStoreManagerClient.For(system.System);
        var a = ((IPEndPoint)await stores.CreateStoreAsync("a")).Port;
        var b = ((IPEndPoint)await stores.CreateStoreAsync("b")).Port;
        await using var first = await RawClient.ConnectAsync(a);
        await using var second = await RawClient.ConnectAsync(b);
        foreach (var client in new[] { first, second })
        {
            await client.SendAsync(Ping(7));
            Assert.Equal(7u, await client.ReadUInt32Async());
        }

        await using (var third = await RawClient.ConnectAsync(a))
            Assert.True(await third.ClosedByServerAsync());
        await first.DisposeAsync();
        // Its place is given back: a connection to the other store is accepted again.
        Assert.True(await TestStoreServer.EventuallyAsync(async () =>
        {
            // A refused connection may be closed before the ping is even written (a broken pipe).
            await using var retry = await RawClient.ConnectAsync(b);
            try
            {
                await retry.SendAsync(Ping(8));
                return await retry.ReadUInt32Async() == 8u;
            }
            catch (Exception e) when (e is IOException or TimeoutException or System.Net.Sockets.SocketException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task The_number_of_stores_is_capped()
    {
        await using var system = new DisposableSystem(ActorSystem.Create("max-stores-test", ConfigurationFactory.ParseString("""
            akka.loglevel = WARNING
            tcpstore { host = "127.0.0.1", port = 0, max-stores = 2 }
            """)));
        await system.System.StartTcpStoreAsync();
        var stores = TcpStoreManagerClient.For(system.System);
        await stores.CreateStoreAsync("second");
        var error = await Assert.ThrowsAsync<TcpStoreStartException>(() => stores.CreateStoreAsync("third"));
        Assert.Contains("max-stores (2)", error.Reason);
    }

    /// <summary>
    /// 1,000 stores created, used and removed in a loop: descriptors and threads end where they began, and the
    /// managed heap after a full collection does not grow with the stores. Each create is ready to serve at once.
    /// </summary>
    [Fact]
    public async Task A_thousand_stores_created_and_removed_leave_nothing_behind()
    {
        async Task Cycle(int i)
        {
            var port = await CreateAsync($"cycle-{i}");
            await using (var client = await RawClient.ConnectAsync(port))
            {
                await client.SendAsync(Set("/k", "v"), Get("/k"));
                Assert.Equal("v", await client.ReadStringAsync());
            }
            Assert.True(await _stores.RemoveStoreAsync($"cycle-{i}"));
        }

        for (var i = 0; i < 50; i++) await Cycle(i); // warm-up: code paths, pools, thread pool size
        var (fdsBefore, threadsBefore, heapBefore) = await Resources();
        var create = Stopwatch.StartNew();
        for (var i = 50; i < 1050; i++) await Cycle(i);
        var perCycle = create.Elapsed / 1000;
        var (fdsAfter, threadsAfter, heapAfter) = await Resources();

        output.WriteLine($"1,000 cycles: {perCycle.TotalMilliseconds:0.00} ms each; descriptors {fdsBefore} -> {fdsAfter}, " +
                         $"threads {threadsBefore} -> {threadsAfter}, heap {heapBefore / 1024} -> {heapAfter / 1024} KiB");
        Assert.True(fdsAfter - fdsBefore <= 20, $"descriptors grew by {fdsAfter - fdsBefore}");
        Assert.True(threadsAfter - threadsBefore <= 10, $"threads grew by {threadsAfter - threadsBefore}");
        Assert.True(heapAfter - heapBefore < 8 * 1024 * 1024, $"heap grew by {(heapAfter - heapBefore) / 1024} KiB");
        Assert.Equal(["default"], (await _stores.ListStoresAsync()).Select(s => s.Name));
    }

    private static async Task<(int Descriptors, int Threads, long Heap)> Resources()
    {
        // Stopped stores' sockets are closed and their threads exit asynchronously: let them settle.
        await Task.Delay(TimeSpan.FromSeconds(1));
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        using var self = Process.GetCurrentProcess();
        return (Directory.GetFiles("/proc/self/fd").Length, self.Threads.Count, GC.GetTotalMemory(forceFullCollection: true));
    }

    private sealed class DisposableSystem(ActorSystem system) : IAsyncDisposable
    {
        public ActorSystem System { get; } = system;

        public async ValueTask DisposeAsync() => await System.Terminate();
    }
}
