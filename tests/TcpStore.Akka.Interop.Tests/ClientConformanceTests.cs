using System.Diagnostics;
using System.Text;
using TcpStore.Akka.Client;

namespace TcpStore.Akka.Interop.Tests;

/// <summary>
/// The .NET client (<see cref="TcpStoreClient"/>) against a server target. The same cases, with the same assertions, run
/// against PyTorch 2.10's libuv server (the reference) and against ours: the client's conformance proof, and a second
/// check of our server. The cross-client cases share keys with PyTorch's real client (<see cref="TorchStore"/>).
/// </summary>
public abstract class ClientConformanceTests : IAsyncLifetime
{
    private static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan StillBlocked = TimeSpan.FromMilliseconds(200);
    private static int _counter;

    private readonly List<IDisposable> _owned = [];

    protected ClientConformanceTests(StoreTarget target)
    {
        Target = target;
        Ns = $"cc{Interlocked.Increment(ref _counter)}-{Guid.NewGuid():N}"[..20] + "/";
    }

    protected StoreTarget Target { get; }

    /// <summary>This test's key namespace.</summary>
    protected string Ns { get; }

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        lock (_owned)
        {
            foreach (var o in _owned) o.Dispose();
            _owned.Clear();
        }

        return Task.CompletedTask;
    }

    private string K(string name) => Ns + name;

    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    private T Own<T>(T disposable) where T : IDisposable
    {
        lock (_owned) _owned.Add(disposable);
        return disposable;
    }

    private async Task<TcpStoreClient> ClientAsync(
        (string Host, int Port)? server = null, Func<TcpStoreClientOptions, TcpStoreClientOptions>? configure = null)
    {
        var (host, port) = server ?? await Target.SharedAsync();
        var options = new TcpStoreClientOptions { Host = host, Port = port, Timeout = ClientTimeout };
        return Own(await TcpStoreClient.ConnectAsync(configure?.Invoke(options) ?? options));
    }

    private async Task<TorchStore> TorchClientAsync((string Host, int Port)? server = null)
    {
        var (host, port) = server ?? await Target.SharedAsync();
        return Own(await TorchStore.ConnectAsync(host, port, ClientTimeout));
    }

    /// <summary>
    /// A blocking call must not return: against PyTorch's server as well as ours, so no store state can say it is
    /// blocked, and only a bounded window of not completing shows it.
    /// </summary>
    private static async Task AssertStillBlocked(Task task, string what)
    {
        await Task.Delay(StillBlocked);
        Assert.False(task.IsCompleted, $"{what} returned before it could have: {task.Status} {task.Exception}");
    }

    private static Task<T> Within<T>(Task<T> task, double seconds = 5) => task.WaitAsync(TimeSpan.FromSeconds(seconds));

    private static Task Within(Task task, double seconds = 5) => task.WaitAsync(TimeSpan.FromSeconds(seconds));

    // ---------------------------------------------------------------------------------------------------------
    // set / get / wait
    // ---------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Set_get_overwrite_empty_and_binary_values_round_trip()
    {
        var c = await ClientAsync();
        await c.SetAsync(K("k"), "v1");
        Assert.Equal("v1", await c.GetStringAsync(K("k")));
        await c.SetAsync(K("k"), "second");
        Assert.Equal("second", await c.GetStringAsync(K("k")));

        await c.SetAsync(K("empty"), []);
        Assert.True(await c.CheckAsync(K("empty")));
        Assert.Empty(await c.GetAsync(K("empty")));

        var big = new byte[1 << 20];
        new Random(7).NextBytes(big);
        await c.SetAsync(K("big"), big);
        var other = await ClientAsync();
        Assert.Equal(big, await other.GetAsync(K("big")));
    }

    [Fact]
    public async Task Get_waits_for_a_key_set_later_by_another_client()
    {
        var reader = await ClientAsync();
        var writer = await ClientAsync();
        var get = reader.GetStringAsync(K("later"));
        await AssertStillBlocked(get, "get of a missing key");
        await writer.SetAsync(K("later"), "here");
        Assert.Equal("here", await Within(get));
    }

    [Fact]
    public async Task Get_of_a_missing_key_times_out_naming_the_wire_key_and_the_connection_stays_usable()
    {
        var c = await ClientAsync();
        var started = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<TcpStoreTimeoutException>(
            () => c.GetAsync(K("missing"), TimeSpan.FromMilliseconds(300)));
        Assert.InRange(started.Elapsed, TimeSpan.FromMilliseconds(290), TimeSpan.FromSeconds(5));
        Assert.Equal($"wait timeout after 300ms, keys: /{K("missing")}", e.Message);
        Assert.Equal([$"/{K("missing")}"], e.Keys);

        // PyTorch's test_tcp_store_timeout_doest_break_client: the connection still works
        await c.SetAsync(K("after"), "ok");
        Assert.Equal("ok", await c.GetStringAsync(K("after")));
        await c.PingAsync();
        Assert.True(c.IsConnected);
    }

    [Fact]
    public async Task Wait_on_several_keys_counts_only_the_missing_ones_and_names_all_on_timeout()
    {
        var c = await ClientAsync();
        var writer = await ClientAsync();
        await c.SetAsync(K("a"), "1");
        var wait = c.WaitAsync([K("a"), K("b"), K("c")]);
        await AssertStillBlocked(wait, "wait with two missing keys");
        await writer.SetAsync(K("b"), "2");
        await AssertStillBlocked(wait, "wait with one missing key");
        await writer.AppendAsync(K("c"), "3");
        await Within(wait);

        var e = await Assert.ThrowsAsync<TcpStoreTimeoutException>(
            () => c.WaitAsync([K("a"), K("x"), K("y")], TimeSpan.FromMilliseconds(100)));
        Assert.Equal($"wait timeout after 100ms, keys: /{K("a")}, /{K("x")}, /{K("y")}", e.Message);
        await c.WaitAsync([]);
        await c.WaitAsync([K("a"), K("b")], TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task Wait_with_zero_timeout_times_out_at_once()
    {
        var c = await ClientAsync();
        await Assert.ThrowsAsync<TcpStoreTimeoutException>(() => c.WaitAsync(K("never"), TimeSpan.Zero));
        Assert.Equal(5, await c.AddAsync(K("n"), 5));
    }

    [Fact]
    public async Task A_canceled_wait_is_canceled_on_the_server_and_the_connection_stays_usable()
    {
        var c = await ClientAsync();
        var writer = await ClientAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => c.GetAsync(K("canceled"), null, cts.Token));
        Assert.True(c.IsConnected);

        // the server forgot the canceled wait: a later SET must not leave a stray STOP_WAITING on this connection
        await writer.SetAsync(K("canceled"), "v");
        Assert.Equal(1, await c.AddAsync(K("count"), 1));
        Assert.Equal("v", await c.GetStringAsync(K("canceled")));
    }

    // ---------------------------------------------------------------------------------------------------------
    // add / compareSet / check / delete / append / multi
    // ---------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Add_starts_from_zero_and_stores_decimal_text()
    {
        var c = await ClientAsync();
        Assert.Equal(5, await c.AddAsync(K("n"), 5));
        Assert.Equal(-3, await c.AddAsync(K("n"), -8));
        Assert.Equal("-3", await c.GetStringAsync(K("n")));
        Assert.Equal(0, await c.AddAsync(K("zero"), 0));
    }

    [Fact]
    public async Task CompareSet_follows_the_four_cases()
    {
        var c = await ClientAsync();
        // missing, expected empty: created
        Assert.Equal("v1", await c.CompareSetAsync(K("k"), "", "v1"));
        Assert.Equal("v1", await c.GetStringAsync(K("k")));
        // present and equal: swapped
        Assert.Equal("v2", await c.CompareSetAsync(K("k"), "v1", "v2"));
        // present and different: unchanged, current value returned
        Assert.Equal("v2", await c.CompareSetAsync(K("k"), "wrong", "v3"));
        Assert.Equal("v2", await c.CompareSetAsync(K("k"), "", "v3"));
        // missing, expected non-empty: nothing stored, expected returned
        Assert.Equal("exp", await c.CompareSetAsync(K("absent"), "exp", "des"));
        Assert.False(await c.CheckAsync(K("absent")));
    }

    [Fact]
    public async Task Check_delete_and_append()
    {
        var c = await ClientAsync();
        Assert.True(await c.CheckAsync(Array.Empty<string>()));
        Assert.False(await c.CheckAsync(K("d")));
        await c.AppendAsync(K("d"), "ab");
        await c.AppendAsync(K("d"), "cd");
        Assert.True(await c.CheckAsync([K("d")]));
        Assert.Equal("abcd", await c.GetStringAsync(K("d")));
        Assert.True(await c.DeleteKeyAsync(K("d")));
        Assert.False(await c.DeleteKeyAsync(K("d")));
        Assert.False(await c.CheckAsync(K("d")));
        Assert.Null(await c.TryGetAsync(K("d")));
        await c.SetAsync(K("d"), "again");
        Assert.Equal(B("again"), await c.TryGetAsync(K("d")));
    }

    [Fact]
    public async Task MultiSet_then_MultiGet_in_request_order_and_MultiGet_waits()
    {
        var c = await ClientAsync();
        await c.MultiSetAsync([K("a"), K("b"), K("c")], [B("1"), B(""), B("3")]);
        var values = await c.MultiGetAsync([K("c"), K("a"), K("b")]);
        Assert.Equal(["3", "1", ""], values.Select(v => Encoding.UTF8.GetString(v)));
        Assert.Empty(await c.MultiGetAsync([]));
        Assert.Throws<ArgumentException>(() => { _ = c.MultiSetAsync([K("x")], []); });

        var writer = await ClientAsync();
        var get = c.MultiGetAsync([K("a"), K("late")]);
        await AssertStillBlocked(get, "multiGet with a missing key");
        await writer.SetAsync(K("late"), "L");
        Assert.Equal(["1", "L"], (await Within(get)).Select(v => Encoding.UTF8.GetString(v)));

        await Assert.ThrowsAsync<TcpStoreTimeoutException>(
            () => c.MultiGetAsync([K("a"), K("never")], TimeSpan.FromMilliseconds(50)));
    }

    // ---------------------------------------------------------------------------------------------------------
    // queues
    // ---------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Queue_push_len_pop_fifo_and_empty()
    {
        var c = await ClientAsync();
        Assert.Equal(0, await c.QueueLenAsync(K("q")));
        await c.QueuePushAsync(K("q"), "first");
        await c.QueuePushAsync(K("q"), B("second"));
        Assert.Equal(2, await c.QueueLenAsync(K("q")));
        Assert.Equal(B("first"), await c.QueuePopAsync(K("q")));
        Assert.Equal(B("second"), await c.QueuePopAsync(K("q"), block: false));
        var e = await Assert.ThrowsAsync<TcpStoreQueueEmptyException>(() => c.QueuePopAsync(K("q"), block: false));
        Assert.Equal("queue is empty", e.Message);
        Assert.Equal(0, await c.QueueLenAsync(K("q")));
    }

    [Fact]
    public async Task Blocking_pop_waits_for_a_push_and_times_out_with_the_key()
    {
        var c = await ClientAsync();
        var pusher = await ClientAsync();
        var pop = c.QueuePopAsync(K("work"));
        await AssertStillBlocked(pop, "blocking pop of an empty queue");
        await pusher.QueuePushAsync(K("work"), "job");
        Assert.Equal(B("job"), await Within(pop));

        var e = await Assert.ThrowsAsync<TcpStoreTimeoutException>(
            () => c.QueuePopAsync(K("idle"), timeout: TimeSpan.FromMilliseconds(50)));
        Assert.Equal($"wait timeout after 50ms, keys: /{K("idle")}", e.Message);
    }

    // ---------------------------------------------------------------------------------------------------------
    // listKeys / numKeys / prefix / init
    // ---------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task ListKeys_strips_the_prefix_and_hides_other_keys_and_NumKeys_counts_everything()
    {
        var server = await Target.StartAsync();
        var c = await ClientAsync(server);
        var raw = await ClientAsync(server, o => o with { KeyPrefix = "" });
        Assert.Empty(await c.ListKeysAsync());
        Assert.Equal(0, await c.GetNumKeysAsync());

        await c.SetAsync("a", "1");
        await c.AddAsync("dir/b", 2);
        await c.QueuePushAsync("queue", "not a key");
        Assert.Equal(1, await c.RegisterWorkerAsync());
        await raw.SetAsync("unprefixed", "x");

        // raw's LIST_KEYS first: SET has no reply, so only a round trip on raw's own connection orders it
        Assert.Equal(
            ["/a", "/dir/b", "init/", "unprefixed"], (await raw.ListKeysAsync()).Order(StringComparer.Ordinal));
        Assert.Equal(["a", "dir/b"], (await c.ListKeysAsync()).Order(StringComparer.Ordinal));
        Assert.Equal(4, await c.GetNumKeysAsync());
        Assert.Equal("1", await raw.GetStringAsync("init/"));

        var job = await ClientAsync(server, o => o with { KeyPrefix = "job7/" });
        await job.SetAsync("x", "1");
        Assert.Equal(["x"], await job.ListKeysAsync());
        Assert.Equal("1", await raw.GetStringAsync("job7/x"));
    }

    [Fact]
    public async Task WaitForWorkers_returns_when_every_worker_registered_and_times_out_otherwise()
    {
        var server = await Target.StartAsync();
        var owner = await ClientAsync(server);
        var waiting = owner.WaitForWorkersAsync(3);
        await AssertStillBlocked(waiting, "waitForWorkers with no worker");
        foreach (var _ in Enumerable.Range(0, 3)) await (await ClientAsync(server)).RegisterWorkerAsync();
        await Within(waiting);

        var e = await Assert.ThrowsAsync<TcpStoreException>(() => owner.WaitForWorkersAsync(5, TimeSpan.FromMilliseconds(100)));
        Assert.Equal("Timed out after 0 seconds waiting for clients. 3/5 clients joined.", e.Message);
    }

    // ---------------------------------------------------------------------------------------------------------
    // connections
    // ---------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Ping_and_clone_give_an_independent_connection()
    {
        var a = await ClientAsync();
        Assert.True(await a.PingAsync() < TimeSpan.FromSeconds(5));
        using var b = a.Clone();
        Assert.Equal(a.Options, b.Options);
        Assert.False(b.IsConnected);
        var wait = b.GetStringAsync(K("later"));
        await AssertStillBlocked(wait, "clone's get of a missing key");
        Assert.Equal(1, await a.AddAsync(K("n"), 1)); // the original is not held by the clone's wait
        await a.SetAsync(K("later"), "done");
        Assert.Equal("done", await Within(wait));
    }

    [Fact]
    public async Task Many_threads_share_one_client_one_request_at_a_time()
    {
        var c = await ClientAsync();
        var results = await Within(
            Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
            {
                var seen = new List<long>();
                for (var i = 0; i < 25; i++) seen.Add(await c.AddAsync(K("counter"), 1));
                await c.SetAsync(K("s"), "x");
                Assert.Equal("x", await c.GetStringAsync(K("s")));
                return seen;
            }))),
            30);
        Assert.Equal(Enumerable.Range(1, 400).Select(i => (long)i), results.SelectMany(r => r).Order());
    }

    [Fact]
    public async Task Barrier_of_thirty_two_clients()
    {
        const int n = 32;
        var clients = await Task.WhenAll(Enumerable.Range(0, n).Select(_ => ClientAsync()));
        var arrivals = await Within(
            Task.WhenAll(clients.Select(async c =>
            {
                var arrival = await c.AddAsync(K("arrived"), 1);
                if (arrival == n) await c.SetAsync(K("go"), "1");
                await c.WaitAsync(K("go"));
                return arrival;
            })),
            30);
        Assert.Equal(Enumerable.Range(1, n).Select(i => (long)i), arrivals.Order());
    }

    [Fact]
    public async Task A_request_the_server_rejects_breaks_the_connection_and_only_Reconnect_recovers()
    {
        // ADD on a non-numeric value: both servers close the connection (the protocol has no error reply).
        var c = await ClientAsync();
        await c.SetAsync(K("text"), "abc");
        var first = await Assert.ThrowsAsync<TcpStoreConnectionException>(() => c.AddAsync(K("text"), 1));
        Assert.Contains("Connection was likely closed", first.Message);
        Assert.False(c.IsConnected);
        var again = await Assert.ThrowsAsync<TcpStoreConnectionException>(() => c.PingAsync());
        Assert.Contains("reconnect is off", again.Message);

        var r = await ClientAsync(configure: o => o with { Reconnect = true });
        await Assert.ThrowsAsync<TcpStoreConnectionException>(() => r.AddAsync(K("text"), 1));
        Assert.False(r.IsConnected);
        Assert.Equal("abc", await r.GetStringAsync(K("text"))); // reconnected (VALIDATE + PING) first
        Assert.True(r.IsConnected);
    }

    [Fact]
    public async Task Connecting_to_a_closed_port_fails_after_the_connect_timeout()
    {
        using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        var port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var started = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<TcpStoreConnectionException>(() => TcpStoreClient.ConnectAsync(
            new TcpStoreClientOptions { Host = "127.0.0.1", Port = port, ConnectTimeout = TimeSpan.FromMilliseconds(700) }));
        Assert.InRange(started.Elapsed, TimeSpan.FromMilliseconds(690), TimeSpan.FromSeconds(5));
        Assert.StartsWith($"The client socket has timed out after 700ms while trying to connect to (127.0.0.1, {port}).", e.Message);
    }

    // ---------------------------------------------------------------------------------------------------------
    // cross-client: the .NET client and PyTorch's share keys
    // ---------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Keys_written_by_the_dotnet_client_are_read_by_PyTorch_and_vice_versa()
    {
        var net = await ClientAsync();
        var torch = await TorchClientAsync();

        await net.SetAsync(K("from-net"), "hello torch");
        Assert.Equal("hello torch", await torch.GetStringAsync(K("from-net")));
        await torch.SetAsync(K("from-torch"), "hello net");
        Assert.Equal("hello net", await net.GetStringAsync(K("from-torch")));

        var binary = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        await torch.SetAsync(K("bin"), binary);
        Assert.Equal(binary, await net.GetAsync(K("bin")));

        Assert.Equal(3, await net.AddAsync(K("n"), 3));
        Assert.Equal(10, await torch.AddAsync(K("n"), 7));
        Assert.Equal(11, await net.AddAsync(K("n"), 1));

        Assert.Equal("w", await torch.CompareSetAsync(K("from-net"), "hello torch", "w"));
        Assert.Equal("w", await net.GetStringAsync(K("from-net")));

        await net.QueuePushAsync(K("q"), "job");
        Assert.Equal(1, await net.QueueLenAsync(K("q"))); // QUEUE_PUSH has no reply: a round trip orders it
        Assert.Equal(1, await torch.QueueLenAsync(K("q")));
        Assert.Equal("job", await torch.QueuePopAsync(K("q"), block: true));
        await torch.QueuePushAsync(K("q"), "reply");
        Assert.Equal(B("reply"), await net.QueuePopAsync(K("q")));
    }

    [Fact]
    public async Task A_dotnet_waiter_is_woken_by_PyTorch_and_a_PyTorch_waiter_by_dotnet()
    {
        var net = await ClientAsync();
        var torch = await TorchClientAsync();

        var netWait = net.WaitAsync([K("t1"), K("t2")]);
        await AssertStillBlocked(netWait, ".NET wait");
        await torch.MultiSetAsync([K("t1"), K("t2")], [B("1"), B("2")]);
        await Within(netWait);

        var torchGet = torch.GetStringAsync(K("n1"));
        await AssertStillBlocked(torchGet, "PyTorch get");
        await net.MultiSetAsync([K("n1")], [B("from net")]);
        Assert.Equal("from net", await Within(torchGet));
    }

    [Fact]
    public async Task ListKeys_agree_between_the_dotnet_client_and_PyTorch()
    {
        var server = await Target.StartAsync();
        var net = await ClientAsync(server);
        var torch = await TorchClientAsync(server);
        await net.SetAsync("n", "1");
        await torch.SetAsync("t", "2");
        Assert.True(await torch.CheckAsync("t")); // SET has no reply: a round trip on its connection orders it
        await net.RegisterWorkerAsync();
        string[] expected = ["n", "t"];
        Assert.Equal(expected, (await net.ListKeysAsync()).Order(StringComparer.Ordinal));
        Assert.Equal(expected, (await torch.ListKeysAsync()).Order(StringComparer.Ordinal));
        Assert.Equal(await torch.GetNumKeysAsync(), await net.GetNumKeysAsync());
    }
}

/// <summary>The .NET client against the reference: PyTorch 2.10's libuv server.</summary>
public sealed class PyTorchServerClientConformanceTests(PyTorchLibuvTarget target)
    : ClientConformanceTests(target), IClassFixture<PyTorchLibuvTarget>;

/// <summary>The .NET client against our server: the same cases, the same assertions.</summary>
public sealed class OurServerClientConformanceTests(OurServerTarget target)
    : ClientConformanceTests(target), IClassFixture<OurServerTarget>;
