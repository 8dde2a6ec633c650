using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using TcpStore.Akka.Configuration;
using TcpStore.Akka.Connections;
using TcpStore.Akka.Hosting;
using TcpStore.Akka.Store;

namespace TcpStore.TestSupport;

/// <summary>
/// Our server, in process, on 127.0.0.1 and a free port: its own ActorSystem and a <see cref="TcpStoreGuardian"/>,
/// exactly as <c>WithTcpStore</c> starts it. Extra HOCON (under <c>tcpstore</c>) sets limits for a test; a transport
/// (<c>epoll</c>, <c>sockets</c>) picks <c>tcpstore.tcp.transport</c>, so that a suite runs once per transport (see
/// <see cref="Transports"/>).
/// </summary>
public sealed class TestStoreServer : IAsyncDisposable
{
    private TestStoreServer(ActorSystem system, IActorRef guardian, IActorRef store, IActorRef listener, int port)
    {
        System = system;
        Guardian = guardian;
        Store = store;
        Listener = listener;
        Port = port;
    }

    public ActorSystem System { get; }
    public IActorRef Guardian { get; }
    public IActorRef Store { get; }
    public IActorRef Listener { get; }
    public string Host => "127.0.0.1";
    public int Port { get; }

    /// <summary>The transports the socket-level suites run over: each such suite is an abstract class taking one,
    /// with a sealed subclass per transport (e.g. <c>ServerSocketTestsOverEpoll</c>).</summary>
    public static readonly IReadOnlyList<string> Transports = ["epoll", "sockets"];

    /// <summary>
    /// <c>TCPSTORE_TEST_TRANSPORT</c>: the transport of every server a test starts without naming one (in process,
    /// and as a process through <see cref="ServerProcess"/>), so that the whole solution can run once per transport
    /// (<c>.ci/run</c> does); unset, the default (epoll on Linux).
    /// </summary>
    public static string? DefaultTransport =>
        Environment.GetEnvironmentVariable("TCPSTORE_TEST_TRANSPORT") is { Length: > 0 } transport ? transport : null;

    public static async Task<TestStoreServer> StartAsync(string extraHocon = "", string? transport = null)
    {
        transport ??= DefaultTransport;
        var transportHocon = transport is null ? "" : $"tcpstore.tcp.transport = {transport}\n";
        var config = ConfigurationFactory.ParseString(transportHocon + extraHocon)
            .WithFallback(ConfigurationFactory.ParseString("""
                tcpstore { host = "127.0.0.1", port = 0 }
                akka.loglevel = INFO
                akka.log-dead-letters = off
                """));
        var system = ActorSystem.Create("tcpstore-test", config);
        TcpStoreManager.StoreCreated created;
        try
        {
            created = await system.StartTcpStoreAsync();
        }
        catch
        {
            await system.Terminate();
            throw;
        }

        var guardian = ActorRegistry.For(system).Get<TcpStoreGuardian>();
        var (store, listener) = created.Components;
        var bound = (IPEndPoint)created.Address;
        return new TestStoreServer(system, guardian, store, listener, bound.Port);
    }

    public Task<StoreProtocol.StoreStats> StatsAsync() =>
        Store.Ask<StoreProtocol.StoreStats>(StoreProtocol.GetStats.Instance, TimeSpan.FromSeconds(5));

    public Task<int> ConnectionCountAsync() =>
        Listener.Ask<int>(TcpStoreListener.GetConnectionCount.Instance, TimeSpan.FromSeconds(5));

    /// <summary>
    /// Polls <paramref name="condition"/> until it holds or <paramref name="timeout"/> passes: for state that no probe
    /// or completion can report (the store's stats seen through a socket, metrics, captured log lines). Where an
    /// event can be awaited, await it instead.
    /// </summary>
    public static async Task<bool> EventuallyAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (await condition()) return true;
            await Task.Delay(20);
        }

        return await condition();
    }

    public async ValueTask DisposeAsync() => await System.Terminate();
}
