using Akka.Actor;
using TcpStore.Akka.Connections;
using TcpStore.Akka.Store;
using TcpStore.TestSupport;
using static TcpStore.TestSupport.Wire;

namespace TcpStore.Akka.Tests.Connections;

/// <summary>
/// <see cref="StoreProtocol.StoreLost"/> (cluster mode's failover, told by the guardian): the connections that were owed
/// an answer by the lost store close, the others carry on.
/// </summary>
public abstract class StoreLostTests(string transport)
{
    private Task<TestStoreServer> StartServerAsync(string extraHocon = "") => TestStoreServer.StartAsync(extraHocon, transport);

    [Fact]
    public async Task A_connection_with_a_deferred_wait_closes_and_idle_ones_keep_working()
    {
        await using var server = await StartServerAsync();
        await using var waiting = await RawClient.ConnectAsync(server.Port);
        await using var idle = await RawClient.ConnectAsync(server.Port);
        await using var canceled = await RawClient.ConnectAsync(server.Port);

        await waiting.SendAsync(Wait("/never"), Ping(1));
        Assert.Equal(1u, await waiting.ReadUInt32Async()); // the WAIT is registered (deferred)
        await idle.SendAsync(Set("/k", "v"), Ping(2));
        Assert.Equal(2u, await idle.ReadUInt32Async());
        await canceled.SendAsync(Wait("/never"), CancelWait(), Ping(3));
        Assert.Equal(1, await canceled.ReadByteAsync()); // WAIT_CANCELED: nothing is owed any more
        Assert.Equal(3u, await canceled.ReadUInt32Async());

        server.Guardian.Tell(StoreProtocol.StoreLost.Instance, ActorRefs.NoSender);

        Assert.True(await waiting.ClosedByServerAsync());
        await idle.SendAsync(Get("/k"));
        Assert.Equal("v", await idle.ReadStringAsync());
        await canceled.SendAsync(Ping(4));
        Assert.Equal(4u, await canceled.ReadUInt32Async());
    }

    [Fact]
    public async Task A_connection_whose_wait_was_answered_is_not_owed_anything()
    {
        await using var server = await StartServerAsync();
        await using var waiter = await RawClient.ConnectAsync(server.Port);
        await using var setter = await RawClient.ConnectAsync(server.Port);

        await waiter.SendAsync(Wait("/go"), Ping(1));
        Assert.Equal(1u, await waiter.ReadUInt32Async());
        await setter.SendAsync(Set("/go", "1"), Ping(2));
        Assert.Equal(2u, await setter.ReadUInt32Async());
        Assert.Equal(0, await waiter.ReadByteAsync()); // STOP_WAITING

        server.Guardian.Tell(StoreProtocol.StoreLost.Instance, ActorRefs.NoSender);
        // The guardian forwards both to the listener in order, and the listener tells its connections StoreLost
        // before it answers: from then on StoreLost is ahead of anything the connection reads from its socket.
        await server.Guardian.Ask<int>(TcpStoreListener.GetConnectionCount.Instance, TimeSpan.FromSeconds(5));

        await waiter.SendAsync(Ping(3));
        Assert.Equal(3u, await waiter.ReadUInt32Async()); // still open, and nothing was written before the PONG
    }
}

/// <summary><see cref="StoreLostTests"/> over the epoll transport.</summary>
public sealed class StoreLostTestsOverEpoll() : StoreLostTests("epoll");

/// <summary><see cref="StoreLostTests"/> over the .NET sockets transport.</summary>
public sealed class StoreLostTestsOverSockets() : StoreLostTests("sockets");
