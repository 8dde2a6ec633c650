using TcpStore.Akka.Telemetry;
using TcpStore.Akka.Tests.Support;
using TcpStore.TestSupport;
using static TcpStore.TestSupport.Wire;

namespace TcpStore.Akka.Tests.Telemetry;

/// <summary>
/// Tests that read process-wide figures (the instruments, the process's descriptors and threads) run alone, so that no
/// other test's traffic is in the numbers.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MetricsCollection
{
    public const string Name = "process-wide figures (instruments, descriptors, threads)";
}

/// <summary>The Meter's instruments, read through a <see cref="MetricsCollector"/> (a MeterListener), as a real
/// server's traffic drives them.</summary>
[Collection(MetricsCollection.Name)]
public abstract class MetricsTests(string transport)
{
    private Task<TestStoreServer> StartServerAsync(string extraHocon = "") => TestStoreServer.StartAsync(extraHocon, transport);

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Operations_are_counted_by_query_type_and_batches_are_timed()
    {
        await using var server = await StartServerAsync();
        using var metrics = new MetricsCollector();
        double Ops(string query) => metrics.Value("tcpstore.operations", Default, ("query", query));
        var (set, get, add) = (Ops("Set"), Ops("Get"), Ops("Add"));
        var batches = metrics.Collect().Where(s => s.Name == "tcpstore.operation.duration").Sum(s => s.Count);

        await using var client = await RawClient.ConnectAsync(server.Port);
        await client.SendAsync(Set("k", "v"), Set("k2", "v"), Get("k"));
        Assert.Equal("v", await client.ReadStringAsync());
        await client.SendAsync(Add("n", 5));
        Assert.Equal(5, await client.ReadInt64Async());

        Assert.Equal(2, Ops("Set") - set);
        Assert.Equal(1, Ops("Get") - get);
        Assert.Equal(1, Ops("Add") - add);
        var duration = metrics.Collect().Single(s => s.Name == "tcpstore.operation.duration");
        Assert.InRange(duration.Count - batches, 2, 4); // one per batch: the decoder may split or join pipelined requests
        Assert.True(duration.Value > 0);
        Assert.Equal("s", duration.Unit);
        Assert.Equal(duration.Count, duration.Buckets[^1].Count); // +Inf holds every observation
    }

    [Fact]
    public async Task Each_store_is_counted_under_its_own_store_tag_and_forgotten_when_removed()
    {
        await using var server = await TestStoreServer.StartAsync();
        var stores = TcpStore.Akka.Hosting.TcpStoreManagerClient.For(server.System);
        var a = ((System.Net.IPEndPoint)await stores.CreateStoreAsync("metrics-a")).Port;
        var b = ((System.Net.IPEndPoint)await stores.CreateStoreAsync("metrics-b")).Port;
        using var metrics = new MetricsCollector();
        double Of(string name, string store, params (string, string)[] more) => metrics.Value(name, [("store", store), .. more]);

        await using (var ca = await RawClient.ConnectAsync(a))
        {
            await ca.SendAsync(Set("k", "v"), Set("k2", "v"), Get("k"));
            Assert.Equal("v", await ca.ReadStringAsync());
        }
        await using var cb = await RawClient.ConnectAsync(b);
        await cb.SendAsync(Get("k"));
        Assert.Equal("", await cb.ReadStringAsync());

        Assert.Equal((2, 1), (Of("tcpstore.operations", "metrics-a", ("query", "Set")), Of("tcpstore.operations", "metrics-a", ("query", "Get"))));
        Assert.Equal((0, 1), (Of("tcpstore.operations", "metrics-b", ("query", "Set")), Of("tcpstore.operations", "metrics-b", ("query", "Get"))));
        Assert.Equal((2, 0), (Of("tcpstore.keys", "metrics-a"), Of("tcpstore.keys", "metrics-b")));
        Assert.Equal(1, Of("tcpstore.connections.accepted", "metrics-b"));
        Assert.Equal(1, Of("tcpstore.connections.open", "metrics-b"));

        Assert.True(await stores.RemoveStoreAsync("metrics-a"));
        // Its counts are forgotten (the observable instruments report only the stores that run), the other's stay.
        Assert.Null(TcpStoreMetrics.Find("metrics-a"));
        Assert.NotNull(TcpStoreMetrics.Find("metrics-b"));
    }

    [Fact]
    public async Task Gauges_follow_what_the_store_holds_and_who_waits()
    {
        await using var server = await StartServerAsync();
        using var metrics = new MetricsCollector();
        var before = Snapshot(metrics);

        await using var writer = await RawClient.ConnectAsync(server.Port);
        await using var waiter = await RawClient.ConnectAsync(server.Port);
        await writer.SendAsync(Set("key", "12345"), QueuePush("q", "abc"), QueuePush("q", "de"), Ping(1));
        await writer.ReadUInt32Async();
        await waiter.SendAsync(Wait("absent-1", "absent-2"));
        Assert.True(await TestStoreServer.EventuallyAsync(
            async () => (await server.StatsAsync()).WaitingConnections == 1, Timeout));

        var after = Snapshot(metrics);
        Assert.Equal(1, after["tcpstore.keys"] - before["tcpstore.keys"]);
        Assert.Equal(2, after["tcpstore.queue.items"] - before["tcpstore.queue.items"]);
        Assert.Equal("key".Length + "12345".Length + "abc".Length + "de".Length,
            after["tcpstore.stored.bytes"] - before["tcpstore.stored.bytes"]);
        Assert.Equal(1, after["tcpstore.waiting.connections"] - before["tcpstore.waiting.connections"]);
        Assert.Equal(2, after["tcpstore.waiting.registrations"] - before["tcpstore.waiting.registrations"]);
        Assert.Equal(2, after["tcpstore.connections.open"] - before["tcpstore.connections.open"]);
        Assert.Equal(2, after["tcpstore.connections.accepted"] - before["tcpstore.connections.accepted"]);

        // A closed connection leaves the open count and drops its waiter.
        await waiter.DisposeAsync();
        Assert.True(await TestStoreServer.EventuallyAsync(async () =>
        {
            var now = Snapshot(metrics);
            return now["tcpstore.connections.open"] - before["tcpstore.connections.open"] == 1 &&
                   now["tcpstore.waiting.connections"] == before["tcpstore.waiting.connections"];
        }, Timeout));
    }

    [Fact]
    public async Task Errors_and_refusals_are_counted_by_reason()
    {
        await using var server = await StartServerAsync("tcpstore.limits.max-connections = 1");
        using var metrics = new MetricsCollector();
        double Errors(string reason) => metrics.Value("tcpstore.errors", Default, ("reason", reason));
        double Closed(string reason, string query) =>
            metrics.Value("tcpstore.connections.closed_for_cause", Default, ("query", query), ("reason", reason));
        var (invalid, maxConnections, addNaN) = (Errors("invalid-validate"), Errors("max-connections"), Errors("add-not-a-number"));
        var closedAdd = Closed("add-not-a-number", "Add");
        var refused = metrics.Value("tcpstore.connections.refused", Default, ("reason", "max-connections"));

        await using (var bad = await RawClient.ConnectAsync(server.Port, validate: false))
        {
            await bad.SendAsync(Set("k", "v")); // no VALIDATE first
            Assert.True(await bad.ClosedByServerAsync());
        }
        Assert.True(await TestStoreServer.EventuallyAsync(async () => await server.ConnectionCountAsync() == 0, Timeout));

        await using var client = await RawClient.ConnectAsync(server.Port);
        await client.SendAsync(Set("text", "abc"), Ping(7));
        await client.ReadUInt32Async();
        await using (var extra = await RawClient.ConnectAsync(server.Port, validate: false))
            Assert.True(await extra.ClosedByServerAsync());
        await client.SendAsync(Add("text", 1));
        Assert.True(await client.ClosedByServerAsync());

        Assert.True(await TestStoreServer.EventuallyAsync(() => Task.FromResult(Errors("add-not-a-number") - addNaN == 1), Timeout));
        Assert.Equal(1, Errors("invalid-validate") - invalid);
        Assert.Equal(1, Errors("max-connections") - maxConnections);
        Assert.Equal(1, Closed("add-not-a-number", "Add") - closedAdd);
        Assert.Equal(1, metrics.Value("tcpstore.connections.refused", Default, ("reason", "max-connections")) - refused);
    }

    [Fact]
    public async Task The_accept_rate_gauge_reports_the_last_full_second()
    {
        await using var server = await StartServerAsync();
        using var metrics = new MetricsCollector();
        var clients = new List<RawClient>();
        try
        {
            for (var i = 0; i < 5; i++) clients.Add(await RawClient.ConnectAsync(server.Port));
            Assert.True(await TestStoreServer.EventuallyAsync(
                () => Task.FromResult(metrics.Value("tcpstore.connections.accept_rate", Default) > 0), TimeSpan.FromSeconds(3)));
        }
        finally
        {
            foreach (var client in clients) await client.DisposeAsync();
        }
    }

    [Fact]
    public void The_accept_rate_window_counts_per_second_and_forgets_idle_seconds()
    {
        var window = new AcceptRateWindow();
        window.Record(10);
        window.Record(10);
        window.Record(10);
        Assert.Equal(0, window.LastSecond(10)); // second 10 is not over yet
        Assert.Equal(3, window.LastSecond(11));
        window.Record(11);
        Assert.Equal(3, window.LastSecond(11));
        Assert.Equal(1, window.LastSecond(12));
        Assert.Equal(0, window.LastSecond(14)); // nothing in second 13
    }

    /// <summary>Every measurement carries its store's name; the test servers run the store named default.</summary>
    private static readonly (string Key, string Value) Default = ("store", "default");

    private static Dictionary<string, double> Snapshot(MetricsCollector metrics)
    {
        var names = new[]
        {
            "tcpstore.keys", "tcpstore.queue.items", "tcpstore.stored.bytes", "tcpstore.waiting.connections",
            "tcpstore.waiting.registrations", "tcpstore.connections.open", "tcpstore.connections.accepted",
        };
        var samples = metrics.Collect();
        return names.ToDictionary(n => n, n => samples.Where(s => s.Name == n).Sum(s => s.Value));
    }
}

/// <summary><see cref="MetricsTests"/> over the epoll transport.</summary>
[Collection(MetricsCollection.Name)]
public sealed class MetricsTestsOverEpoll() : MetricsTests("epoll");

/// <summary><see cref="MetricsTests"/> over the .NET sockets transport.</summary>
[Collection(MetricsCollection.Name)]
public sealed class MetricsTestsOverSockets() : MetricsTests("sockets");
