using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using TcpStore.Akka.Client.Tests.Support;
using static TcpStore.TestSupport.Wire;

namespace TcpStore.Akka.Client.Tests;

/// <summary>
/// The client's exact bytes and its behaviour on failures, against scripted servers (docs/PROTOCOL.md §5.2–§5.4).
/// </summary>
public sealed class ClientWireTests
{
    [Fact]
    public async Task Sends_PyTorchs_golden_sequences_with_the_slash_prefix()
    {
        await using var server = FakeServer.Start(async (c, _) =>
        {
            var nonce = await c.HandshakeAsync();
            Assert.Equal((uint)Environment.ProcessId, nonce); // PyTorch sends getpid()
            await c.ExpectAsync(Set("/k", "v"));
            await c.ExpectAsync(Wait("/k"));
            await c.SendAsync([0]);
            await c.ExpectAsync(Get("/k"));
            await c.SendAsync(Str("v"));
            await c.ExpectAsync(Add("/c", 7));
            await c.SendAsync(I64(7));
            await c.ExpectAsync(CompareSet("/k", "v", "w"));
            await c.SendAsync(Str("w"));
            await c.ExpectAsync(Check("/k", "/zz"));
            await c.SendAsync([1]);
            await c.ExpectAsync(DeleteKey("/c"));
            await c.SendAsync(I64(1));
            await c.ExpectAsync(GetNumKeys());
            await c.SendAsync(I64(2));
            await c.ExpectAsync(Append("/k", "xx"));
            await c.ExpectAsync(MultiSet(("/a", "1"), ("/b", "2")));
            await c.ExpectAsync(Wait("/a", "/b"));
            await c.SendAsync([0]);
            await c.ExpectAsync(MultiGet("/a", "/b"));
            await c.SendAsync(Str("1"), Str("2"));
            await c.ExpectAsync(QueuePush("/q", "qq"));
            await c.ExpectAsync(QueueLen("/q"));
            await c.SendAsync(I64(1));
            await c.ExpectAsync(Wait("/q"));
            await c.SendAsync([0]);
            await c.ExpectAsync(QueuePop("/q"));
            await c.SendAsync(I64(1), Str("qq"));
            await c.ExpectAsync(QueuePop("/q"));
            await c.SendAsync(I64(0));
            await c.ExpectAsync(ListKeys());
            await c.SendAsync(I64(4), Str("/b"), Str("/a"), Str("/k"), Str("init/"));
            await c.ExpectAsync(Add("init/", 1));
            await c.SendAsync(I64(3));
        });

        await using var client = await TcpStoreClient.ConnectAsync(server.Options);
        await client.SetAsync("k", "v");
        Assert.Equal("v", await client.GetStringAsync("k"));
        Assert.Equal(7, await client.AddAsync("c", 7));
        Assert.Equal("w", await client.CompareSetAsync("k", "v", "w"));
        Assert.False(await client.CheckAsync(["k", "zz"]));
        Assert.True(await client.DeleteKeyAsync("c"));
        Assert.Equal(2, await client.GetNumKeysAsync());
        await client.AppendAsync("k", "xx");
        await client.MultiSetAsync(["a", "b"], [B("1"), B("2")]);
        Assert.Equal([B("1"), B("2")], await client.MultiGetAsync(["a", "b"]));
        await client.QueuePushAsync("q", "qq");
        Assert.Equal(1, await client.QueueLenAsync("q"));
        Assert.Equal(B("qq"), await client.QueuePopAsync("q"));
        await Assert.ThrowsAsync<TcpStoreQueueEmptyException>(() => client.QueuePopAsync("q", block: false));
        Assert.Equal(["b", "a", "k"], await client.ListKeysAsync());
        Assert.Equal(3, await client.RegisterWorkerAsync());
    }

    [Fact]
    public async Task Wait_timeout_sends_CANCEL_WAIT_and_a_late_STOP_WAITING_is_still_a_timeout()
    {
        await using var server = FakeServer.Start(async (c, _) =>
        {
            await c.HandshakeAsync();
            await c.ExpectAsync(Wait("/late"));
            await c.ExpectAsync(CancelWait()); // sent only after the timeout
            await c.SendAsync([0], [1]); // the race: STOP_WAITING was already queued, then WAIT_CANCELED
            await c.ExpectAsync([13]);
            var nonce = await c.ReadAsync(4);
            await c.SendAsync(nonce);
        });

        await using var client = await TcpStoreClient.ConnectAsync(server.Options);
        var started = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<TcpStoreTimeoutException>(() => client.WaitAsync("late", TimeSpan.FromMilliseconds(150)));
        Assert.True(started.Elapsed >= TimeSpan.FromMilliseconds(140), started.Elapsed.ToString());
        Assert.Equal("wait timeout after 150ms, keys: /late", e.Message);
        Assert.Equal(TimeSpan.FromMilliseconds(150), e.Timeout);
        await client.PingAsync(); // both bytes were consumed: the stream is still in step
        Assert.True(client.IsConnected);
    }

    [Fact]
    public async Task Barrier_sends_PyTorch_2_12s_request_and_returns_on_stop_waiting()
    {
        await using var server = FakeServer.Start(async (c, _) =>
        {
            await c.HandshakeAsync();
            await c.ExpectAsync(Convert.FromHexString("12" + "0400000000000000" + "2F626172" + "0400000000000000"));
            await c.SendAsync([0]);
        });

        await using var client = await TcpStoreClient.ConnectAsync(server.Options);
        await client.BarrierAsync("bar", 4);
    }

    [Fact]
    public async Task Barrier_timeout_sends_CANCEL_WAIT_and_names_the_key_as_PyTorch_does()
    {
        await using var server = FakeServer.Start(async (c, _) =>
        {
            await c.HandshakeAsync();
            await c.ExpectAsync(Cat([18], Str("/epoch/3"), I64(8)));
            await c.ExpectAsync(CancelWait()); // sent only after the timeout
            await c.SendAsync([0], [1]); // released just before the cancel: still a timeout, as in PyTorch
            await c.ExpectAsync([13]);
            var nonce = await c.ReadAsync(4);
            await c.SendAsync(nonce);
        });

        await using var client = await TcpStoreClient.ConnectAsync(server.Options);
        var e = await Assert.ThrowsAsync<TcpStoreTimeoutException>(() => client.BarrierAsync("epoch/3", 8, TimeSpan.FromMilliseconds(150)));
        Assert.Equal("barrier timeout after 150ms, key: epoch/3", e.Message);
        Assert.Equal(["/epoch/3"], e.Keys);
        await client.PingAsync();
        Assert.True(client.IsConnected);
    }

    [Fact]
    public async Task Barrier_against_a_server_without_it_fails_with_a_dropped_connection()
    {
        // PyTorch's servers before 2.12 close the connection on an unknown query type.
        await using var server = FakeServer.Start(async (c, _) =>
        {
            await c.HandshakeAsync();
            await c.ReadAsync(1);
            c.Dispose();
        });

        await using var client = await TcpStoreClient.ConnectAsync(server.Options);
        await Assert.ThrowsAsync<TcpStoreConnectionException>(() => client.BarrierAsync("bar", 2));
        Assert.False(client.IsConnected);
    }

    [Fact]
    public async Task A_wrong_ping_echo_is_retried_with_a_new_connection()
    {
        await using var server = FakeServer.Start(async (c, index) =>
        {
            if (index == 0)
            {
                await c.HandshakeAsync(echo: 0xdeadbeef);
                Assert.True(await c.ClosedByClientAsync());
                return;
            }

            await c.HandshakeAsync();
            await c.ExpectAsync(GetNumKeys());
            await c.SendAsync(I64(9));
        });

        await using var client = await TcpStoreClient.ConnectAsync(server.Options);
        Assert.Equal(9, await client.GetNumKeysAsync());
        Assert.Equal(2, server.Accepted);
    }

    [Fact]
    public async Task Connecting_retries_with_backoff_until_the_server_appears()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        var options = new TcpStoreClientOptions
        {
            Host = "127.0.0.1", Port = port, ConnectTimeout = TimeSpan.FromSeconds(10),
            InitialBackoff = TimeSpan.FromMilliseconds(50),
        };
        var connecting = TcpStoreClient.ConnectAsync(options);
        // The point: with nothing listening, the client keeps retrying (refused attempts are invisible from
        // here), so only a bounded window of not completing shows it; then the server appears and it connects.
        await Task.Delay(400);
        Assert.False(connecting.IsCompleted, "connected to nothing");
        await using var server = FakeServer.Start(async (c, _) => await c.HandshakeAsync(), port);
        await using var client = await connecting.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(client.IsConnected);
    }

    [Fact]
    public async Task A_dropped_connection_throws_and_stays_broken_without_Reconnect()
    {
        await using var server = FakeServer.Start(async (c, index) =>
        {
            await c.HandshakeAsync();
            await c.ExpectAsync(Wait("/k"));
            // close without answering
        });

        await using var client = await TcpStoreClient.ConnectAsync(server.Options);
        var e = await Assert.ThrowsAsync<TcpStoreConnectionException>(() => client.GetAsync("k"));
        Assert.Contains("Failed to recv, got 0 bytes. Connection was likely closed.", e.Message);
        Assert.False(client.IsConnected);
        var again = await Assert.ThrowsAsync<TcpStoreConnectionException>(() => client.AddAsync("n", 1));
        Assert.Contains("reconnect is off", again.Message);
        Assert.Equal(1, server.Accepted);
    }

    [Fact]
    public async Task With_Reconnect_the_next_call_reconnects_with_VALIDATE_and_PING_first()
    {
        await using var server = FakeServer.Start(async (c, index) =>
        {
            await c.HandshakeAsync();
            await c.ExpectAsync(Add("/n", 1));
            if (index == 0) return; // drop the first connection mid-call
            await c.SendAsync(I64(1));
        });

        await using var client = await TcpStoreClient.ConnectAsync(server.Options with { Reconnect = true });
        await Assert.ThrowsAsync<TcpStoreConnectionException>(() => client.AddAsync("n", 1)); // never retried silently
        Assert.Equal(1, await client.AddAsync("n", 1));
        Assert.Equal(2, server.Accepted);
    }

    [Fact]
    public async Task Canceling_a_call_mid_request_breaks_the_connection()
    {
        await using var server = FakeServer.Start(async (c, _) =>
        {
            await c.HandshakeAsync();
            await c.ExpectAsync(Add("/n", 1));
            Assert.True(await c.ClosedByClientAsync()); // never answered; the client gives up the connection
        });

        await using var client = await TcpStoreClient.ConnectAsync(server.Options);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.AddAsync("n", 1, cts.Token));
        Assert.False(client.IsConnected);
        var e = await Assert.ThrowsAsync<TcpStoreConnectionException>(() => client.PingAsync());
        Assert.Contains("canceled in the middle of a request", e.Message);
    }

    [Fact]
    public async Task A_canceled_wait_does_the_CANCEL_WAIT_exchange_and_keeps_the_connection()
    {
        await using var server = FakeServer.Start(async (c, _) =>
        {
            await c.HandshakeAsync();
            await c.ExpectAsync(Wait("/k"));
            await c.ExpectAsync(CancelWait());
            await c.SendAsync([1]);
            await c.ExpectAsync(GetNumKeys());
            await c.SendAsync(I64(0));
        });

        await using var client = await TcpStoreClient.ConnectAsync(server.Options);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        var e = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.WaitAsync("k", null, cts.Token));
        Assert.Equal(cts.Token, e.CancellationToken);
        Assert.True(client.IsConnected);
        Assert.Equal(0, await client.GetNumKeysAsync());
    }

    [Fact]
    public async Task A_reply_that_cannot_be_right_is_a_protocol_error_and_breaks_the_connection()
    {
        await using var server = FakeServer.Start(async (c, _) =>
        {
            await c.HandshakeAsync();
            await c.ExpectAsync(Check("/k"));
            await c.SendAsync([7]);
            Assert.True(await c.ClosedByClientAsync());
        });

        await using var client = await TcpStoreClient.ConnectAsync(server.Options);
        var e = await Assert.ThrowsAsync<TcpStoreProtocolException>(() => client.CheckAsync("k"));
        Assert.Equal("ready or not_ready response expected", e.Message);
        Assert.False(client.IsConnected);
    }

    [Fact]
    public async Task Requests_from_many_threads_never_interleave_on_the_wire()
    {
        const int callers = 8;
        await using var server = FakeServer.Start(async (c, _) =>
        {
            await c.HandshakeAsync();
            for (var i = 0; i < callers * 20; i++)
            {
                var head = await c.ReadAsync(1 + 8);
                Assert.Equal(4, head[0]);
                var key = await c.ReadAsync((int)BitConverter.ToUInt64(head, 1));
                await c.ReadAsync(8);
                await Task.Yield();
                await c.SendAsync(I64(key.Length));
            }
        });

        await using var client = await TcpStoreClient.ConnectAsync(server.Options);
        var results = await Task.WhenAll(Enumerable.Range(0, callers).Select(t => Task.Run(async () =>
        {
            var key = new string('k', t + 1);
            for (var i = 0; i < 20; i++) Assert.Equal(key.Length + 1, await client.AddAsync(key, 1));
            return true;
        })));
        Assert.All(results, Assert.True);
    }

    [Fact]
    public async Task Large_replies_arrive_in_pieces_and_are_reassembled()
    {
        var big = new byte[3 * 1024 * 1024 + 17];
        new Random(3).NextBytes(big);
        await using var server = FakeServer.Start(async (c, _) =>
        {
            await c.HandshakeAsync();
            await c.ExpectAsync(Wait("/big"));
            await c.SendAsync([0]);
            await c.ExpectAsync(Get("/big"));
            var reply = Str(big);
            for (var offset = 0; offset < reply.Length; offset += 100_000)
                await c.SendAsync(reply[offset..Math.Min(reply.Length, offset + 100_000)]);
        });

        await using var client = await TcpStoreClient.ConnectAsync(server.Options);
        Assert.Equal(big, await client.GetAsync("big"));
    }

    [Fact]
    public async Task Dispose_fails_calls_in_flight_and_later_calls()
    {
        var waitReceived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = FakeServer.Start(async (c, _) =>
        {
            await c.HandshakeAsync();
            await c.ExpectAsync(Wait("/k"));
            waitReceived.SetResult();
            await c.ClosedByClientAsync();
        });

        var client = await TcpStoreClient.ConnectAsync(server.Options);
        var wait = client.WaitAsync("k");
        await waitReceived.Task.WaitAsync(TimeSpan.FromSeconds(5)); // the WAIT is on the wire: a call in flight
        client.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => wait.WaitAsync(TimeSpan.FromSeconds(5)));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.PingAsync());
    }

    [Fact]
    public async Task A_custom_prefix_is_prepended_and_ListKeys_keeps_only_its_keys()
    {
        await using var server = FakeServer.Start(async (c, _) =>
        {
            await c.HandshakeAsync();
            await c.ExpectAsync(Set("job/k", "v"));
            await c.ExpectAsync(ListKeys());
            await c.SendAsync(I64(3), Str("job/k"), Str("/k"), Str("jobx"));
        });

        await using var client = await TcpStoreClient.ConnectAsync(server.Options with { KeyPrefix = "job/" });
        await client.SetAsync("k", "v");
        Assert.Equal(["k"], await client.ListKeysAsync());
    }
}
