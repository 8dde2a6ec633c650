using TcpStore.TestSupport;
using static TcpStore.TestSupport.Wire;

namespace TcpStore.Akka.Tests.Connections;

/// <summary>The running server against a raw socket client: exact request bytes in, exact reply bytes out.</summary>
public abstract class ServerSocketTests(string transport) : IAsyncLifetime
{
    private Task<TestStoreServer> StartServerAsync(string extraHocon = "") => TestStoreServer.StartAsync(extraHocon, transport);

    /// <summary>
    /// How long a client must receive nothing where a reply must not come (a WAIT that blocks, a wake that must not
    /// happen): the absence of bytes is no event, so a bounded window is the check.
    /// </summary>
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);
    private TestStoreServer _server = null!;

    public async Task InitializeAsync() => _server = await StartServerAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Validate_then_ping_echoes_the_nonce_in_one_segment()
    {
        await using var client = await RawClient.ConnectAsync(_server.Port, validate: false);
        await client.SendAsync(Validate, Ping(0x6fd6));
        Assert.Equal(new byte[] { 0xd6, 0x6f, 0x00, 0x00 }, await client.ReadAsync(4));
    }

    [Fact]
    public async Task Golden_transcript_of_the_reference_client_gets_the_reference_replies()
    {
        await using var c = await RawClient.ConnectAsync(_server.Port);
        await c.SendAsync(Add("init/", 1));
        Assert.Equal(1, await c.ReadInt64Async());
        await c.SendAsync(Set("/k", "v"), Wait("/k"));
        Assert.Equal(0, await c.ReadByteAsync());
        await c.SendAsync(Get("/k"));
        Assert.Equal("v", await c.ReadStringAsync());
        await c.SendAsync(Add("/c", 7));
        Assert.Equal(7, await c.ReadInt64Async());
        await c.SendAsync(CompareSet("/k", "v", "w"));
        Assert.Equal("w", await c.ReadStringAsync());
        await c.SendAsync(Check("/k", "/zz"));
        Assert.Equal(1, await c.ReadByteAsync());
        await c.SendAsync(Wait("/missing"));
        Assert.True(await c.NothingArrivesAsync(Quiet));
        await c.SendAsync(CancelWait());
        Assert.Equal(1, await c.ReadByteAsync());
        await c.SendAsync(DeleteKey("/c"));
        Assert.Equal(1, await c.ReadInt64Async());
        await c.SendAsync(GetNumKeys());
        Assert.Equal(2, await c.ReadInt64Async());
        await c.SendAsync(Append("/k", "xx"), MultiSet(("/a", "1"), ("/b", "2")), Wait("/a", "/b"));
        Assert.Equal(0, await c.ReadByteAsync());
        await c.SendAsync(MultiGet("/a", "/b"));
        Assert.Equal("1", await c.ReadStringAsync());
        Assert.Equal("2", await c.ReadStringAsync());
        await c.SendAsync(QueuePush("/q", "qq"), QueueLen("/q"));
        Assert.Equal(1, await c.ReadInt64Async());
        await c.SendAsync(Wait("/q"));
        Assert.Equal(0, await c.ReadByteAsync());
        await c.SendAsync(QueuePop("/q"));
        Assert.Equal(1, await c.ReadInt64Async());
        Assert.Equal("qq", await c.ReadStringAsync());
        await c.SendAsync(QueuePop("/q"));
        Assert.Equal(0, await c.ReadInt64Async());
        await c.SendAsync(Get("/k"), ListKeys());
        Assert.Equal("wxx", await c.ReadStringAsync());
        Assert.Equal(4, await c.ReadInt64Async());
        var keys = new List<string>();
        for (var i = 0; i < 4; i++) keys.Add(await c.ReadStringAsync());
        Assert.Equal(new[] { "/a", "/b", "/k", "init/" }, keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Pipelined_requests_in_one_write_are_answered_in_order()
    {
        await using var c = await RawClient.ConnectAsync(_server.Port);
        var requests = new List<byte[]>();
        for (uint i = 0; i < 200; i++) requests.Add(i % 2 == 0 ? Ping(i) : Add("/pipelined", 1));
        await c.SendAsync(requests.ToArray());
        long counter = 0;
        for (uint i = 0; i < 200; i++)
        {
            if (i % 2 == 0) Assert.Equal(i, await c.ReadUInt32Async());
            else Assert.Equal(++counter, await c.ReadInt64Async());
        }
    }

    [Fact]
    public async Task A_request_sent_one_byte_at_a_time_is_answered()
    {
        await using var c = await RawClient.ConnectAsync(_server.Port, validate: false);
        foreach (var b in Cat(Validate, Set("/slow", "value"), Get("/slow")))
        {
            await c.SendAsync([b]);
            await Task.Delay(1); // the point: each byte a TCP segment (and a read) of its own
        }

        Assert.Equal("value", await c.ReadStringAsync());
    }

    [Fact]
    public async Task Get_of_a_missing_key_answers_empty_and_keeps_the_connection()
    {
        await using var c = await RawClient.ConnectAsync(_server.Port);
        await c.SendAsync(Get("/nothing-here"), MultiGet("/none1", "/none2"), Ping(5));
        Assert.Empty(await c.ReadVectorAsync());
        Assert.Empty(await c.ReadVectorAsync());
        Assert.Empty(await c.ReadVectorAsync());
        Assert.Equal(5u, await c.ReadUInt32Async());
    }

    [Fact]
    public async Task A_wait_is_answered_when_another_connection_sets_the_key()
    {
        await using var waiter = await RawClient.ConnectAsync(_server.Port);
        await using var setter = await RawClient.ConnectAsync(_server.Port);
        await waiter.SendAsync(Wait("/w1", "/w2"));
        await setter.SendAsync(Set("/w1", "x"), Ping(1));
        Assert.Equal(1u, await setter.ReadUInt32Async());
        Assert.True(await waiter.NothingArrivesAsync(Quiet));
        await setter.SendAsync(Set("/w2", "y"));
        Assert.Equal(0, await waiter.ReadByteAsync());
    }

    [Fact]
    public async Task Requests_after_an_outstanding_wait_are_answered_at_once_and_stop_waiting_follows()
    {
        // As in both PyTorch servers: the deferred STOP_WAITING is the one reply that does not keep request order.
        await using var waiter = await RawClient.ConnectAsync(_server.Port);
        await using var setter = await RawClient.ConnectAsync(_server.Port);
        await waiter.SendAsync(Wait("/later"), Ping(42), Get("/later"));
        Assert.Equal(42u, await waiter.ReadUInt32Async());
        Assert.Empty(await waiter.ReadVectorAsync());
        Assert.True(await waiter.NothingArrivesAsync(Quiet));
        await setter.SendAsync(Set("/later", "now"));
        Assert.Equal(0, await waiter.ReadByteAsync());
    }

    [Fact]
    public async Task Cancel_wait_answers_wait_canceled_and_a_later_set_sends_nothing()
    {
        await using var c = await RawClient.ConnectAsync(_server.Port);
        await c.SendAsync(Wait("/never"), Ping(7));
        Assert.Equal(7u, await c.ReadUInt32Async());
        Assert.True(await c.NothingArrivesAsync(Quiet));
        await c.SendAsync(CancelWait(), Set("/never", "late"), Ping(8));
        Assert.Equal(1, await c.ReadByteAsync());
        Assert.Equal(8u, await c.ReadUInt32Async());
        Assert.True(await c.NothingArrivesAsync(Quiet));
    }

    [Fact]
    public async Task Cancel_after_the_wait_was_satisfied_answers_stop_waiting_then_wait_canceled()
    {
        await using var waiter = await RawClient.ConnectAsync(_server.Port);
        await using var setter = await RawClient.ConnectAsync(_server.Port);
        await waiter.SendAsync(Wait("/race"), Ping(1));
        Assert.Equal(1u, await waiter.ReadUInt32Async());
        await setter.SendAsync(Set("/race", "x"), Ping(2));
        Assert.Equal(2u, await setter.ReadUInt32Async());
        await waiter.SendAsync(CancelWait());
        Assert.Equal(0, await waiter.ReadByteAsync());
        Assert.Equal(1, await waiter.ReadByteAsync());
    }

    [Fact]
    public async Task A_wait_satisfied_by_a_set_on_the_same_connection_answers_in_order()
    {
        await using var c = await RawClient.ConnectAsync(_server.Port);
        await c.SendAsync(Wait("/self"), Set("/self", "1"), Ping(3));
        Assert.Equal(0, await c.ReadByteAsync());
        Assert.Equal(3u, await c.ReadUInt32Async());
    }

    [Fact]
    public async Task A_closed_connection_leaves_no_waiter_registrations()
    {
        for (var i = 0; i < 20; i++)
        {
            await using var c = await RawClient.ConnectAsync(_server.Port);
            await c.SendAsync(Wait($"/gone/{i}", "/gone/shared"), Ping(1));
            Assert.Equal(1u, await c.ReadUInt32Async()); // the echo proves the WAIT is registered
        }

        Assert.True(await TestStoreServer.EventuallyAsync(
            async () => (await _server.StatsAsync()).WaiterRegistrations == 0, TimeSpan.FromSeconds(5)));
        var stats = await _server.StatsAsync();
        Assert.Equal(0, stats.WaitingConnections);
    }

    [Theory]
    [InlineData("idle")]
    [InlineData("after-reply")]
    [InlineData("request-in-flight")]
    [InlineData("reset")]
    [InlineData("bad-input")]
    public async Task Every_closed_connection_releases_its_actor_and_stream(string how)
    {
        for (var i = 0; i < 50; i++)
        {
            await using var c = await RawClient.ConnectAsync(_server.Port);
            switch (how)
            {
                case "after-reply":
                    await c.SendAsync(Ping(1));
                    await c.ReadUInt32Async();
                    break;
                case "request-in-flight":
                    await c.SendAsync(Enumerable.Repeat(Add("/inflight", 1), 100).ToArray());
                    break;
                case "reset":
                    await c.SendAsync(Wait("/reset-wait"));
                    c.Socket.LingerState = new System.Net.Sockets.LingerOption(true, 0);
                    break;
                case "bad-input":
                    await c.SendAsync([200]);
                    await c.ClosedByServerAsync();
                    break;
            }
        }

        Assert.True(await TestStoreServer.EventuallyAsync(
            async () => await _server.ConnectionCountAsync() == 0, TimeSpan.FromSeconds(10)),
            $"{await _server.ConnectionCountAsync()} connection actors still alive");
    }

    [Fact]
    public async Task A_request_and_the_peers_FIN_in_one_segment_end_the_connection()
    {
        // Both arrive before the server reads: an edge-triggered poll reports them once, and the read that takes
        // the request must not make the server forget the FIN.
        for (var i = 0; i < 20; i++)
        {
            await using var c = await RawClient.ConnectAsync(_server.Port);
            c.Socket.NoDelay = false;
            await c.SendAsync(Wait("/fin-wait"));
            c.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);
            Assert.True(await c.ClosedByServerAsync());
        }

        Assert.True(await TestStoreServer.EventuallyAsync(
            async () => (await _server.StatsAsync()).WaiterRegistrations == 0, TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Wrong_validate_closes_the_connection_and_executes_nothing()
    {
        await using (var bad = await RawClient.ConnectAsync(_server.Port, validate: false))
        {
            await bad.SendAsync(Set("/unvalidated", "x"), Validate, Ping(1));
            Assert.True(await bad.ClosedByServerAsync());
        }

        await using var good = await RawClient.ConnectAsync(_server.Port);
        await good.SendAsync(Check("/unvalidated"));
        Assert.Equal(1, await good.ReadByteAsync());
    }

    [Theory]
    [InlineData(new byte[] { 0x00, 0xce, 0xf7, 0x85, 0x3d })]
    [InlineData(new byte[] { 0x01, 0xce, 0xf7, 0x85, 0x3c })]
    [InlineData(new byte[] { 0x00, 0x00, 0x00, 0x00, 0x00 })]
    public async Task A_wrong_first_message_closes_the_connection(byte[] first)
    {
        await using var c = await RawClient.ConnectAsync(_server.Port, validate: false);
        await c.SendAsync(first);
        Assert.True(await c.ClosedByServerAsync());
    }

    [Theory]
    [InlineData((byte)19)]
    [InlineData((byte)255)]
    [InlineData((byte)0)]
    public async Task Unknown_type_or_second_validate_closes_only_that_connection(byte type)
    {
        await using var other = await RawClient.ConnectAsync(_server.Port);
        await other.SendAsync(Set("/survivor", "alive"));
        await using (var bad = await RawClient.ConnectAsync(_server.Port))
        {
            await bad.SendAsync(type == 0 ? Validate : [type]);
            Assert.True(await bad.ClosedByServerAsync());
        }

        await other.SendAsync(Get("/survivor"));
        Assert.Equal("alive", await other.ReadStringAsync());
    }

    [Fact]
    public async Task Add_on_a_non_number_closes_that_connection_and_leaves_the_value()
    {
        await using var c = await RawClient.ConnectAsync(_server.Port);
        await c.SendAsync(Set("/text", "abc"), Add("/text", 1));
        Assert.True(await c.ClosedByServerAsync());
        await using var check = await RawClient.ConnectAsync(_server.Port);
        await check.SendAsync(Get("/text"));
        Assert.Equal("abc", await check.ReadStringAsync());
    }

    [Fact]
    public async Task A_huge_claimed_length_closes_the_connection_at_once()
    {
        await using var c = await RawClient.ConnectAsync(_server.Port);
        await c.SendAsync([1], U64(1UL << 63));
        Assert.True(await c.ClosedByServerAsync());
    }

    [Fact]
    public async Task Every_request_type_is_answered_through_the_socket()
    {
        await using var c = await RawClient.ConnectAsync(_server.Port);
        await c.SendAsync(Set("/all", "1"), Add("/all", 41), Get("/all"));
        Assert.Equal(42, await c.ReadInt64Async());
        Assert.Equal("42", await c.ReadStringAsync());
        await c.SendAsync(CompareSet("/all", "nope", "x"), CompareSet("/all-missing", "exp", "x"));
        Assert.Equal("42", await c.ReadStringAsync());
        Assert.Equal("exp", await c.ReadStringAsync());
        await c.SendAsync(Check("/all"), Check(), Wait());
        Assert.Equal(0, await c.ReadByteAsync());
        Assert.Equal(0, await c.ReadByteAsync());
        Assert.Equal(0, await c.ReadByteAsync());
        await c.SendAsync(DeleteKey("/all"), DeleteKey("/all"), QueueLen("/nq"), CancelWait());
        Assert.Equal(1, await c.ReadInt64Async());
        Assert.Equal(0, await c.ReadInt64Async());
        Assert.Equal(0, await c.ReadInt64Async());
        Assert.Equal(1, await c.ReadByteAsync());
    }
}

/// <summary><see cref="ServerSocketTests"/> over the epoll transport.</summary>
public sealed class ServerSocketTestsOverEpoll() : ServerSocketTests("epoll");

/// <summary><see cref="ServerSocketTests"/> over the .NET sockets transport.</summary>
public sealed class ServerSocketTestsOverSockets() : ServerSocketTests("sockets");
