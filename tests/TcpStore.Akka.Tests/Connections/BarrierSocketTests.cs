using System.Net;
using System.Net.Sockets;
using TcpStore.Akka.Tests.Support;
using TcpStore.TestSupport;
using static TcpStore.TestSupport.Wire;

namespace TcpStore.Akka.Tests.Connections;

/// <summary>
/// BARRIER (query 18) through the running server, byte by byte as PyTorch 2.12's client sends it (docs/PROTOCOL.md
/// §2.20): the test vectors written from PyTorch's source, and 10,000 ranks meeting at one barrier.
/// </summary>
public abstract class BarrierSocketTests(string transport) : IAsyncLifetime
{
    private Task<TestStoreServer> StartServerAsync(string extraHocon = "") => TestStoreServer.StartAsync(extraHocon, transport);

    /// <summary>How long a rank must receive nothing while its barrier is not released (absence is no event).</summary>
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);

    private TestStoreServer _server = null!;

    public async Task InitializeAsync() => _server = await StartServerAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task A_barrier_of_one_is_answered_with_one_stop_waiting_byte()
    {
        await using var c = await RawClient.ConnectAsync(_server.Port);
        // PyTorch 2.12's store.barrier("bar", 1): 12 | u64 4 | "/bar" | i64 1.
        await c.SendAsync(Convert.FromHexString("12" + "0400000000000000" + "2F626172" + "0100000000000000"));
        Assert.Equal(0x00, await c.ReadByteAsync());
        await c.SendAsync(Get("/bar"));
        Assert.Equal("1", await c.ReadStringAsync());
    }

    [Fact]
    public async Task Arrivals_spread_over_time_are_released_together_by_the_last_one()
    {
        await using var a = await RawClient.ConnectAsync(_server.Port);
        await using var b = await RawClient.ConnectAsync(_server.Port);
        await using var c = await RawClient.ConnectAsync(_server.Port);
        await using var observer = await RawClient.ConnectAsync(_server.Port);

        // A PING after the BARRIER is answered at once (STOP_WAITING is the one reply that may come later): its echo
        // proves the arrival was counted.
        await a.SendAsync(Barrier("/b3", 3), Ping(1));
        Assert.Equal(1u, await a.ReadUInt32Async());
        await b.SendAsync(Barrier("/b3", 3), Ping(2));
        Assert.Equal(2u, await b.ReadUInt32Async());
        await observer.SendAsync(Get("/b3"), Check("/b3"));
        Assert.Equal("2", await observer.ReadStringAsync());
        Assert.Equal(0x00, await observer.ReadByteAsync());
        Assert.True(await a.NothingArrivesAsync(Quiet));
        Assert.True(await b.NothingArrivesAsync(Quiet));

        await c.SendAsync(Barrier("/b3", 3));
        Assert.Equal(0x00, await c.ReadByteAsync());
        Assert.Equal(0x00, await a.ReadByteAsync());
        Assert.Equal(0x00, await b.ReadByteAsync());

        await observer.SendAsync(Barrier("/b3", 3), Get("/b3")); // reuse: at once, still counting
        Assert.Equal(0x00, await observer.ReadByteAsync());
        Assert.Equal("4", await observer.ReadStringAsync());
    }

    [Fact]
    public async Task Cancel_wait_before_the_release_answers_wait_canceled_and_keeps_the_arrival_counted()
    {
        await using var a = await RawClient.ConnectAsync(_server.Port);
        await using var b = await RawClient.ConnectAsync(_server.Port);
        await a.SendAsync(Barrier("/b4", 2));
        await a.SendAsync(CancelWait());
        Assert.Equal(0x01, await a.ReadByteAsync());

        await b.SendAsync(Barrier("/b4", 2));
        Assert.Equal(0x00, await b.ReadByteAsync()); // a's arrival still counts
        Assert.True(await a.NothingArrivesAsync(Quiet));
        await a.SendAsync(Ping(7)); // and a's connection is still usable
        Assert.Equal(7u, await a.ReadUInt32Async());
    }

    [Fact]
    public async Task Cancel_wait_racing_the_release_reads_stop_waiting_then_wait_canceled()
    {
        await using var a = await RawClient.ConnectAsync(_server.Port);
        await using var b = await RawClient.ConnectAsync(_server.Port);
        await a.SendAsync(Barrier("/race", 2), Ping(1));
        Assert.Equal(1u, await a.ReadUInt32Async());
        await b.SendAsync(Barrier("/race", 2));
        Assert.Equal(0x00, await b.ReadByteAsync()); // released: a's 00 is on its way when a cancels
        await a.SendAsync(CancelWait());
        Assert.Equal(new byte[] { 0x00, 0x01 }, await a.ReadAsync(2));
    }

    [Fact]
    public async Task A_waiting_rank_that_disconnects_is_dropped_and_stays_counted()
    {
        await using (var gone = await RawClient.ConnectAsync(_server.Port))
        {
            await gone.SendAsync(Barrier("/gone", 2), Ping(1));
            await gone.ReadUInt32Async(); // the arrival is counted and waits
        }

        Assert.True(await TestStoreServer.EventuallyAsync(
            async () => (await _server.StatsAsync()).WaitingConnections == 0, TimeSpan.FromSeconds(10)));
        await using var b = await RawClient.ConnectAsync(_server.Port);
        await b.SendAsync(Barrier("/gone", 2));
        Assert.Equal(0x00, await b.ReadByteAsync());
    }

    [Fact]
    public async Task A_count_that_is_not_a_number_closes_only_the_arriving_connection()
    {
        await using var writer = await RawClient.ConnectAsync(_server.Port);
        await using var bystander = await RawClient.ConnectAsync(_server.Port);
        await bystander.SendAsync(Barrier("/other", 2), Ping(1));
        Assert.Equal(1u, await bystander.ReadUInt32Async());
        await writer.SendAsync(Set("/text", "x"));
        await using (var arrival = await RawClient.ConnectAsync(_server.Port))
        {
            await arrival.SendAsync(Barrier("/text", 2));
            Assert.True(await arrival.ClosedByServerAsync());
        }

        await writer.SendAsync(Get("/text"), Barrier("/other", 2));
        Assert.Equal("x", await writer.ReadStringAsync());
        Assert.Equal(0x00, await writer.ReadByteAsync());
        Assert.Equal(0x00, await bystander.ReadByteAsync()); // its barrier went on undisturbed
    }

    [Fact]
    public async Task Many_barriers_at_once_each_release_their_own_ranks()
    {
        const int barriers = 20, ranks = 5;
        var clients = new List<RawClient>();
        try
        {
            for (var i = 0; i < barriers * ranks; i++)
                clients.Add(await RawClient.ConnectAsync(_server.Port));
            // Every barrier but the last rank of each: nobody is released.
            for (var i = 0; i < clients.Count; i++)
            {
                if (i % ranks == ranks - 1) continue;
                await clients[i].SendAsync(Barrier($"/many/{i / ranks}", ranks), Ping((uint)i));
                Assert.Equal((uint)i, await clients[i].ReadUInt32Async());
            }
            Assert.True(await clients[0].NothingArrivesAsync(Quiet));
            for (var i = ranks - 1; i < clients.Count; i += ranks)
                await clients[i].SendAsync(Barrier($"/many/{i / ranks}", ranks));
            foreach (var client in clients)
                Assert.Equal(0x00, await client.ReadByteAsync());
        }
        finally
        {
            foreach (var client in clients) await client.DisposeAsync();
        }
    }

    /// <summary>
    /// 10,000 ranks meet at one barrier of a standalone server process (a process of its own, so that each side holds
    /// 10,000 descriptors): every rank is released, exactly once, and the count ends at 10,000.
    /// </summary>
    [Fact]
    public async Task Ten_thousand_ranks_meet_at_one_barrier()
    {
        const int ranks = 10_000;
        await using var server = ServerProcess.Start(BuiltServer.Path, "barrier", "--host", "127.0.0.1", "--port", "0");
        var port = await server.WaitForReadyAsync(TimeSpan.FromSeconds(60));
        var endpoint = new IPEndPoint(IPAddress.Loopback, port);
        var request = Cat(Validate, Barrier("/ten-thousand", ranks));
        var sockets = new Socket[ranks];
        try
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            await Parallel.ForAsync(0, ranks, new ParallelOptions { MaxDegreeOfParallelism = 64, CancellationToken = deadline.Token },
                async (i, ct) =>
                {
                    var socket = sockets[i] = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    await socket.ConnectAsync(endpoint, ct);
                    await socket.SendAsync(request, SocketFlags.None, ct);
                });
            var replies = await Task.WhenAll(sockets.Select(async socket =>
            {
                var buffer = new byte[2];
                var read = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
                return read == 1 ? buffer[0] : -1;
            }));
            Assert.All(replies, reply => Assert.Equal(0x00, reply));

            await using var check = await RawClient.ConnectAsync(port);
            await check.SendAsync(Get("/ten-thousand"));
            Assert.Equal(ranks.ToString(), await check.ReadStringAsync());
        }
        finally
        {
            foreach (var socket in sockets) socket?.Dispose();
        }
    }
}

/// <summary><see cref="BarrierSocketTests"/> over the epoll transport.</summary>
public sealed class BarrierSocketTestsOverEpoll() : BarrierSocketTests("epoll");

/// <summary><see cref="BarrierSocketTests"/> over the .NET sockets transport.</summary>
public sealed class BarrierSocketTestsOverSockets() : BarrierSocketTests("sockets");
