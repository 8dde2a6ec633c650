using System.Diagnostics;
using System.Text;

namespace TcpStore.Akka.Interop.Tests;

/// <summary>
/// PyTorch 2.10's real TCPStore client (libtorch_cpu.so, through the native shim) against a server target: the
/// server-visible behaviours of docs/PROTOCOL.md §2–§4. Each concrete subclass binds one <see cref="StoreTarget"/>;
/// every test runs against each of them. Keys live under a namespace unique to the test.
/// </summary>
public abstract class InteropTests : IAsyncLifetime
{
    /// <summary>Store timeout of ordinary clients: long enough never to fire by accident, short enough to fail.</summary>
    protected static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long a test watches an operation that must still be blocked.</summary>
    private static readonly TimeSpan StillBlocked = TimeSpan.FromMilliseconds(200);

    private static int _counter;
    private readonly List<TorchStore> _clients = [];

    protected InteropTests(StoreTarget target)
    {
        Target = target;
        Ns = $"it{Interlocked.Increment(ref _counter)}-{Guid.NewGuid():N}"[..20] + "/";
    }

    protected StoreTarget Target { get; }

    /// <summary>This test's key namespace, e.g. <c>it7-0a1b2c3d4e5f6a7b/</c>.</summary>
    protected string Ns { get; }

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        lock (_clients)
        {
            foreach (var c in _clients) c.Dispose();
            _clients.Clear();
        }

        return Task.CompletedTask;
    }

    private string K(string name) => Ns + name;

    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    /// <summary>A PyTorch client of the shared server instance.</summary>
    private async Task<TorchStore> ClientAsync(TimeSpan? timeout = null) =>
        await ClientOfAsync(await Target.SharedAsync(), timeout);

    private async Task<TorchStore> ClientOfAsync(
        (string Host, int Port) server,
        TimeSpan? timeout = null,
        long? worldSize = null,
        bool waitForWorkers = false)
    {
        var client = await TorchStore.ConnectAsync(
            server.Host, server.Port, timeout ?? ClientTimeout, worldSize, waitForWorkers);
        Track(client);
        return client;
    }

    private TorchStore Track(TorchStore client)
    {
        lock (_clients) _clients.Add(client);
        return client;
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

    private static async Task<T> Within<T>(Task<T> task, double seconds = 5) =>
        await task.WaitAsync(TimeSpan.FromSeconds(seconds));

    private static async Task Within(Task task, double seconds = 5) =>
        await task.WaitAsync(TimeSpan.FromSeconds(seconds));

    // ---------------------------------------------------------------------------------------------------------
    // set / get
    // ---------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Set_then_get_returns_the_value_and_set_overwrites()
    {
        var c = await ClientAsync();
        await c.SetAsync(K("k"), "v1");
        Assert.Equal("v1", await c.GetStringAsync(K("k")));
        await c.SetAsync(K("k"), "second value");
        Assert.Equal("second value", await c.GetStringAsync(K("k")));
    }

    [Fact]
    public async Task Empty_value_is_stored_and_counts_as_present()
    {
        var c = await ClientAsync();
        await c.SetAsync(K("empty"), []);
        Assert.True(await c.CheckAsync(K("empty")));
        Assert.Empty(await c.GetAsync(K("empty")));
    }

    [Fact]
    public async Task One_mebibyte_value_round_trips_byte_exact()
    {
        var c = await ClientAsync();
        var value = new byte[1 << 20];
        new Random(1234).NextBytes(value);
        await c.SetAsync(K("big"), value);
        var other = await ClientAsync();
        Assert.Equal(value, await other.GetAsync(K("big")));
    }

    [Fact]
    public async Task Binary_keys_and_values_round_trip()
    {
        var c = await ClientAsync();
        byte[] key = [.. B(K("bin-")), 0x00, 0xff, 0x80, 0x0a, 0x00, 0xc3, 0x28];
        var value = Enumerable.Range(0, 256).Select(i => (byte)i).Concat(new byte[] { 0, 0, 0 }).ToArray();
        await c.SetAsync(key, value);
        Assert.Equal(value, await c.GetAsync(key));
        byte[] sibling = [.. B(K("bin-")), 0x00, 0xff, 0x80, 0x0a, 0x00, 0xc3, 0x29];
        await c.SetAsync(sibling, [1]);
        Assert.Equal(value, await c.GetAsync(key));
        Assert.Equal(new byte[] { 1 }, await c.GetAsync(sibling));
    }

    [Fact]
    public async Task Get_blocks_until_another_client_sets_the_key()
    {
        var reader = await ClientAsync();
        var writer = await ClientAsync();
        var get = reader.GetStringAsync(K("later"));
        await AssertStillBlocked(get, "get of a missing key");
        await writer.SetAsync(K("later"), "arrived");
        Assert.Equal("arrived", await Within(get));
    }

    [Fact]
    public async Task Get_of_a_missing_key_times_out_with_PyTorchs_message()
    {
        var c = await ClientAsync();
        await c.SetTimeoutAsync(TimeSpan.FromMilliseconds(300));
        var sw = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<TorchStoreException>(() => c.GetAsync(K("missing")));
        sw.Stop();
        Assert.Equal("c10::DistStoreError", e.ErrorType);
        Assert.Equal($"wait timeout after 300ms, keys: /{K("missing")}", e.Detail);
        Assert.InRange(sw.ElapsedMilliseconds, 250, 5000);
    }

    [Fact]
    public async Task Connection_stays_usable_after_a_timed_out_get()
    {
        // get() times out -> the client sends CANCEL_WAIT and must read WAIT_CANCELED; then the same connection
        // must carry a set and a get (test_tcp_store_timeout_doest_break_client).
        var c = await ClientAsync();
        await c.SetTimeoutAsync(TimeSpan.FromMilliseconds(100));
        var e = await Assert.ThrowsAsync<TorchStoreException>(() => c.GetAsync(K("the_key")));
        Assert.Equal($"wait timeout after 100ms, keys: /{K("the_key")}", e.Detail);
        await c.SetTimeoutAsync(ClientTimeout);
        await c.SetAsync(K("the_key"), "x");
        Assert.Equal("x", await c.GetStringAsync(K("the_key")));
        Assert.Equal(5, await c.AddAsync(K("after"), 5));
    }

    // ---------------------------------------------------------------------------------------------------------
    // add
    // ---------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Add_starts_from_zero_accepts_negative_deltas_and_stores_decimal_text()
    {
        var c = await ClientAsync();
        Assert.Equal(5, await c.AddAsync(K("n"), 5));
        Assert.Equal(-3, await c.AddAsync(K("n"), -8));
        Assert.Equal("-3", await c.GetStringAsync(K("n")));
        Assert.Equal(-3, await c.AddAsync(K("n"), 0));
        Assert.Equal(long.MaxValue - 1, await c.AddAsync(K("big"), long.MaxValue - 1));
        Assert.Equal((long.MaxValue - 1).ToString(), await c.GetStringAsync(K("big")));
    }

    [Fact]
    public async Task Add_parses_a_value_written_by_set()
    {
        var c = await ClientAsync();
        await c.SetAsync(K("n"), "41");
        Assert.Equal(42, await c.AddAsync(K("n"), 1));
        Assert.Equal("42", await c.GetStringAsync(K("n")));
    }

    // ---------------------------------------------------------------------------------------------------------
    // compareSet (docs/PROTOCOL.md §2.4)
    // ---------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task CompareSet_on_a_missing_key_with_empty_expected_creates_it()
    {
        var c = await ClientAsync();
        Assert.Equal("new_value1", await c.CompareSetAsync(K("k"), "", "new_value1"));
        Assert.Equal("new_value1", await c.GetStringAsync(K("k")));
    }

    [Fact]
    public async Task CompareSet_on_a_missing_key_with_nonempty_expected_returns_expected_and_stores_nothing()
    {
        var c = await ClientAsync();
        Assert.Equal("wrong_old_value", await c.CompareSetAsync(K("k"), "wrong_old_value", "new"));
        Assert.False(await c.CheckAsync(K("k")));
    }

    [Fact]
    public async Task CompareSet_with_matching_expected_replaces_the_value()
    {
        var c = await ClientAsync();
        await c.SetAsync(K("k"), "value0");
        Assert.Equal("new_value0", await c.CompareSetAsync(K("k"), "value0", "new_value0"));
        Assert.Equal("new_value0", await c.GetStringAsync(K("k")));

        // present but empty, with empty expected: that is a match too
        await c.SetAsync(K("e"), []);
        Assert.Equal("filled", await c.CompareSetAsync(K("e"), "", "filled"));
        Assert.Equal("filled", await c.GetStringAsync(K("e")));
    }

    [Fact]
    public async Task CompareSet_with_wrong_expected_returns_the_current_value_and_changes_nothing()
    {
        var c = await ClientAsync();
        await c.SetAsync(K("k"), "value0");
        Assert.Equal("value0", await c.CompareSetAsync(K("k"), "wrong", "new"));
        Assert.Equal("value0", await c.CompareSetAsync(K("k"), "", "new"));
        Assert.Equal("value0", await c.GetStringAsync(K("k")));
    }

    [Fact]
    public async Task CompareSet_creating_a_key_wakes_a_blocked_get()
    {
        var reader = await ClientAsync();
        var writer = await ClientAsync();
        var get = reader.GetStringAsync(K("k"));
        await AssertStillBlocked(get, "get of a missing key");
        Assert.Equal("created", await writer.CompareSetAsync(K("k"), "", "created"));
        Assert.Equal("created", await Within(get));
    }

    // ---------------------------------------------------------------------------------------------------------
    // check / wait
    // ---------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Check_is_ready_only_when_every_key_exists()
    {
        var c = await ClientAsync();
        Assert.False(await c.CheckAsync(K("a")));
        await c.SetAsync(K("a"), "1");
        Assert.True(await c.CheckAsync(K("a")));
        Assert.False(await c.CheckAsync(K("a"), K("b")));
        await c.AddAsync(K("b"), 1);
        Assert.True(await c.CheckAsync(K("a"), K("b")));
        Assert.True(await c.CheckAsync());
    }

    [Fact]
    public async Task Wait_on_several_keys_returns_only_when_all_are_set()
    {
        var waiter = await ClientAsync();
        var writer = await ClientAsync();
        var wait = waiter.WaitAsync([K("a"), K("b"), K("c")]);
        await AssertStillBlocked(wait, "wait on three missing keys");
        await writer.SetAsync(K("a"), "1");
        await writer.AddAsync(K("b"), 1);
        await AssertStillBlocked(wait, "wait with one key still missing");
        await writer.AppendAsync(K("c"), "x");
        await Within(wait);
        Assert.Equal("x", await waiter.GetStringAsync(K("c")));
    }

    [Fact]
    public async Task Wait_on_keys_already_present_returns_at_once()
    {
        var c = await ClientAsync();
        await c.SetAsync(K("a"), "1");
        await c.SetAsync(K("b"), "2");
        var sw = Stopwatch.StartNew();
        await c.WaitAsync([K("a"), K("b")], TimeSpan.FromSeconds(5));
        Assert.InRange(sw.ElapsedMilliseconds, 0, 2000);

        // one present, one set later: only the missing one is awaited
        var wait = c.WaitAsync([K("a"), K("late")]);
        await AssertStillBlocked(wait, "wait with a missing key");
        var writer = await ClientAsync();
        await writer.SetAsync(K("late"), "3");
        await Within(wait);
    }

    [Fact]
    public async Task Wait_timeout_names_the_keys_and_leaves_the_connection_usable()
    {
        var c = await ClientAsync();
        await c.SetAsync(K("present"), "p");
        var sw = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<TorchStoreException>(
            () => c.WaitAsync([K("present"), K("missing")], TimeSpan.FromMilliseconds(300)));
        Assert.Equal("c10::DistStoreError", e.ErrorType);
        Assert.Equal($"wait timeout after 300ms, keys: /{K("present")}, /{K("missing")}", e.Detail);
        Assert.InRange(sw.ElapsedMilliseconds, 250, 5000);

        // CANCEL_WAIT left nothing behind: a later set of the awaited key sends nothing stray to this client.
        var writer = await ClientAsync();
        await writer.SetAsync(K("missing"), "m");
        Assert.Equal("m", await c.GetStringAsync(K("missing")));
        Assert.Equal(1, await c.AddAsync(K("counter"), 1));
        Assert.True(await c.CheckAsync(K("present"), K("missing")));
    }

    // ---------------------------------------------------------------------------------------------------------
    // num keys / delete / append / multi
    // ---------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task GetNumKeys_counts_the_keys_of_the_store()
    {
        var server = await Target.StartAsync();
        var c = await ClientOfAsync(server);
        Assert.Equal(0, await c.GetNumKeysAsync());
        await c.SetAsync("key0", "v");
        await c.AddAsync("key", 1);
        await c.AddAsync("key", 2);
        await c.SetAsync("key1", []);
        Assert.Equal(3, await c.GetNumKeysAsync());
        Assert.True(await c.DeleteKeyAsync("key"));
        Assert.Equal(2, await c.GetNumKeysAsync());
        await c.QueuePushAsync("queue", "not a key");
        Assert.Equal(2, await c.GetNumKeysAsync());
    }

    [Fact]
    public async Task DeleteKey_reports_whether_the_key_existed()
    {
        var c = await ClientAsync();
        await c.SetAsync(K("k"), "v");
        Assert.True(await c.DeleteKeyAsync(K("k")));
        Assert.False(await c.CheckAsync(K("k")));
        Assert.False(await c.DeleteKeyAsync(K("k")));
        Assert.False(await c.DeleteKeyAsync(K("never")));
        await c.SetTimeoutAsync(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAsync<TorchStoreException>(() => c.GetAsync(K("k")));
    }

    [Fact]
    public async Task Append_concatenates_and_creates_missing_keys()
    {
        var c = await ClientAsync();
        await c.SetAsync(K("foo"), "po");
        await c.AppendAsync(K("foo"), "tato");
        await c.AppendAsync(K("bar"), "po");
        await c.AppendAsync(K("bar"), "tato");
        Assert.Equal("potato", await c.GetStringAsync(K("foo")));
        Assert.Equal("potato", await c.GetStringAsync(K("bar")));
    }

    [Fact]
    public async Task MultiSet_and_multiGet_round_trip_in_order()
    {
        var c = await ClientAsync();
        await c.MultiSetAsync([K("foo"), K("bar"), K("empty")], [B("po"), B("tato"), []]);
        Assert.Equal("po", await c.GetStringAsync(K("foo")));
        var values = await c.MultiGetAsync(K("bar"), K("foo"), K("empty"), K("bar"));
        Assert.Equal(["tato", "po", "", "tato"], values.Select(v => Encoding.UTF8.GetString(v)));
    }

    [Fact]
    public async Task MultiGet_waits_for_all_its_keys()
    {
        var reader = await ClientAsync();
        var writer = await ClientAsync();
        await writer.SetAsync(K("a"), "1");
        var get = reader.MultiGetAsync(K("a"), K("b"));
        await AssertStillBlocked(get, "multiGet with a missing key");
        await writer.MultiSetAsync([K("b")], [B("2")]);
        var values = await Within(get);
        Assert.Equal(["1", "2"], values.Select(v => Encoding.UTF8.GetString(v)));
    }

    // ---------------------------------------------------------------------------------------------------------
    // queues
    // ---------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Queue_push_len_and_pop_are_fifo()
    {
        var c = await ClientAsync();
        Assert.False(await c.CheckAsync(K("q")));
        Assert.Equal(0, await c.QueueLenAsync(K("q")));
        await c.QueuePushAsync(K("q"), "1");
        await c.QueuePushAsync(K("q"), "2");
        Assert.True(await c.CheckAsync(K("q")));
        Assert.Equal(2, await c.QueueLenAsync(K("q")));
        await c.WaitAsync([K("q")], TimeSpan.FromSeconds(5));
        Assert.Equal("1", await c.QueuePopAsync(K("q"), block: true));
        Assert.Equal("2", await c.QueuePopAsync(K("q"), block: false));
        Assert.False(await c.CheckAsync(K("q")));
        Assert.Equal(0, await c.QueueLenAsync(K("q")));
    }

    [Fact]
    public async Task NonBlocking_pop_of_an_empty_queue_raises()
    {
        var c = await ClientAsync();
        var e = await Assert.ThrowsAsync<TorchStoreException>(() => c.QueuePopAsync(K("q"), block: false));
        Assert.Equal("c10::DistQueueEmptyError", e.ErrorType);
        Assert.Contains("queue is empty", e.Detail);
        await c.QueuePushAsync(K("q"), "a");
        Assert.Equal("a", await c.QueuePopAsync(K("q"), block: false));
        await Assert.ThrowsAsync<TorchStoreException>(() => c.QueuePopAsync(K("q"), block: false));
    }

    [Fact]
    public async Task Blocking_pop_waits_for_a_push_from_another_client()
    {
        var consumer = await ClientAsync();
        var producer = await ClientAsync();
        var pop = consumer.QueuePopAsync(K("q"), block: true);
        await AssertStillBlocked(pop, "blocking pop of an empty queue");
        await producer.QueuePushAsync(K("q"), "job1");
        Assert.Equal("job1", await Within(pop));
        Assert.Equal(0, await producer.QueueLenAsync(K("q")));
    }

    [Fact]
    public async Task Each_push_releases_exactly_one_blocked_pop()
    {
        var first = await ClientAsync();
        var second = await ClientAsync();
        var producer = await ClientAsync();
        var pops = new[] { first.QueuePopAsync(K("q"), block: true), second.QueuePopAsync(K("q"), block: true) };
        await AssertStillBlocked(Task.WhenAny(pops), "blocking pops of an empty queue");

        await producer.QueuePushAsync(K("q"), "x1");
        var done = await Within(Task.WhenAny(pops));
        Assert.Equal("x1", await done);
        var other = pops.Single(p => p != done);
        await AssertStillBlocked(other, "the second pop after one push");

        await producer.QueuePushAsync(K("q"), "x2");
        Assert.Equal("x2", await Within(other));
        Assert.Equal(0, await producer.QueueLenAsync(K("q")));
    }

    [Fact]
    public async Task Queues_work_both_ways_between_two_clones()
    {
        var a = await ClientAsync();
        var b = Track(await a.CloneAsync());
        var aSide = Task.Run(async () =>
        {
            await a.QueuePushAsync(K("a"), "a1");
            return await a.QueuePopAsync(K("b"), block: true);
        });
        var bSide = Task.Run(async () =>
        {
            var got = await b.QueuePopAsync(K("a"), block: true);
            await b.QueuePushAsync(K("b"), "b1");
            return got;
        });
        Assert.Equal("a1", await Within(bSide));
        Assert.Equal("b1", await Within(aSide));
    }

    [Fact]
    public async Task Blocking_pop_times_out()
    {
        var c = await ClientAsync();
        await c.SetTimeoutAsync(TimeSpan.FromMilliseconds(50));
        var e = await Assert.ThrowsAsync<TorchStoreException>(() => c.QueuePopAsync(K("non_existant"), block: true));
        Assert.Equal("c10::DistStoreError", e.ErrorType);
        Assert.Equal($"wait timeout after 50ms, keys: /{K("non_existant")}", e.Detail);
        await c.QueuePushAsync(K("non_existant"), "late");
        Assert.Equal(1, await c.QueueLenAsync(K("non_existant")));
    }

    // ---------------------------------------------------------------------------------------------------------
    // listKeys / clone
    // ---------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task ListKeys_returns_the_client_keys_without_prefix()
    {
        var server = await Target.StartAsync();
        var c = await ClientOfAsync(server);
        Assert.Empty(await c.ListKeysAsync());
        await c.SetAsync("a", "1");
        await c.AddAsync("dir/b", 2);
        await c.MultiSetAsync(["c", "d"], [B("3"), B("4")]);
        await c.QueuePushAsync("queue", "not a key");
        var keys = await c.ListKeysAsync();
        Assert.Equal(["a", "c", "d", "dir/b"], keys.Order(StringComparer.Ordinal));
        Assert.True(await c.DeleteKeyAsync("c"));
        Assert.Equal(["a", "d", "dir/b"], (await c.ListKeysAsync()).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Clone_is_an_independent_connection_to_the_same_store()
    {
        var a = await ClientAsync();
        var b = Track(await a.CloneAsync());
        Assert.Equal(a.Port, b.Port);
        Assert.False(b.IsLibUvBackend && !a.IsLibUvBackend);
        await a.SetAsync(K("foo"), "bar");
        Assert.Equal("bar", await b.GetStringAsync(K("foo")));

        // independent: the clone can block in a wait while the original keeps working
        var wait = b.GetStringAsync(K("later"));
        await AssertStillBlocked(wait, "clone's get of a missing key");
        Assert.Equal(1, await a.AddAsync(K("n"), 1));
        await a.SetAsync(K("later"), "done");
        Assert.Equal("done", await Within(wait));
    }

    // ---------------------------------------------------------------------------------------------------------
    // many clients
    // ---------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Sixty_four_clients_adding_to_one_counter_reach_the_exact_total()
    {
        const int clients = 64;
        const int addsEach = 25;
        var server = await Target.SharedAsync();
        var connected = await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => ClientOfAsync(server)));
        var results = await Within(
            Task.WhenAll(
                connected.Select(async c =>
                {
                    var seen = new List<long>();
                    for (var i = 0; i < addsEach; i++) seen.Add(await c.AddAsync(K("counter"), 1));
                    return seen;
                })),
            60);
        var all = results.SelectMany(r => r).ToList();
        Assert.Equal(clients * addsEach, all.Count);
        Assert.Equal(Enumerable.Range(1, clients * addsEach).Select(i => (long)i), all.Order());
        Assert.Equal((clients * addsEach).ToString(), await connected[0].GetStringAsync(K("counter")));
    }

    [Fact]
    public async Task Barrier_of_thirty_two_clients_releases_everyone_when_the_last_arrives()
    {
        const int n = 32;
        var server = await Target.SharedAsync();
        var clients = await Task.WhenAll(Enumerable.Range(0, n).Select(_ => ClientOfAsync(server)));
        var released = await Within(
            Task.WhenAll(
                clients.Select(async c =>
                {
                    var arrival = await c.AddAsync(K("arrived"), 1);
                    if (arrival == n) await c.SetAsync(K("go"), "1");
                    await c.WaitAsync([K("go")]);
                    return arrival;
                })),
            60);
        Assert.Equal(Enumerable.Range(1, n).Select(i => (long)i), released.Order());
        Assert.Equal(n.ToString(), await clients[0].GetStringAsync(K("arrived")));
        Assert.Equal("1", await clients[^1].GetStringAsync(K("go")));
    }

    [Fact]
    public async Task World_size_clients_count_themselves_under_init()
    {
        // TCPStore(world_size=N, wait_for_workers=True) on a non-server process: one ADD "init/" +1 (no "/" prefix),
        // then return. init/ is counted by getNumKeys but hidden from listKeys.
        const int worldSize = 5;
        var server = await Target.StartAsync();
        var workers = await Task.WhenAll(
            Enumerable.Range(0, worldSize)
                .Select(_ => ClientOfAsync(server, worldSize: worldSize, waitForWorkers: true)));
        var c = workers[0];
        Assert.Equal(1, await c.GetNumKeysAsync());
        Assert.Empty(await c.ListKeysAsync());

        var raw = await ClientOfAsync(server);
        await raw.SetKeyPrefixAsync("");
        Assert.Equal(worldSize.ToString(), Encoding.UTF8.GetString(await raw.GetAsync("init/")));

        // a client without a world size (or without wait_for_workers) does not count itself
        await ClientOfAsync(server, worldSize: worldSize, waitForWorkers: false);
        await ClientOfAsync(server);
        Assert.Equal(worldSize.ToString(), Encoding.UTF8.GetString(await raw.GetAsync("init/")));

        await workers[^1].SetAsync("key", "value");
        Assert.Equal("next", await workers[1].CompareSetAsync("new_key", "", "next"));
        Assert.Equal("value", await workers[2].GetStringAsync("key"));
        Assert.Equal(3, await c.GetNumKeysAsync());
        Assert.Equal(["key", "new_key"], (await c.ListKeysAsync()).Order(StringComparer.Ordinal));
    }
}

/// <summary>The interop cases against the reference: PyTorch 2.10's own libuv server.</summary>
public sealed class PyTorchServerInteropTests(PyTorchLibuvTarget target)
    : InteropTests(target), IClassFixture<PyTorchLibuvTarget>;

/// <summary>The same cases against our server: PyTorch's client must not tell the difference.</summary>
public sealed class OurServerInteropTests(OurServerTarget target)
    : InteropTests(target), IClassFixture<OurServerTarget>;
