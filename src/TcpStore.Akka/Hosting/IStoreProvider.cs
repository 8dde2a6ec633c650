using Akka.Actor;
using TcpStore.Akka.Configuration;
using TcpStore.Akka.Store;
using TcpStore.Akka.Telemetry;

namespace TcpStore.Akka.Hosting;

/// <summary>
/// How a <see cref="TcpStoreGuardian"/> gets the store its connections talk to: a <see cref="StoreActor"/> of its own
/// (standalone), or a node's way to a store that lives elsewhere (cluster mode, <c>WithTcpStoreCluster</c> in
/// TcpStore.Akka.Cluster). Whatever it creates is a child of the guardian, so the guardian's supervision covers it.
/// </summary>
public interface IStoreProvider
{
    /// <summary>
    /// Creates the store, or the way to it, in <paramref name="guardian"/>'s context, counting through
    /// <paramref name="metrics"/> (the store's), and returns the ref that takes the <see cref="StoreProtocol"/>
    /// messages. A provider whose store can be lost tells the guardian <see cref="StoreProtocol.StoreLost"/> when that
    /// happens.
    /// </summary>
    IActorRef CreateStore(IActorContext guardian, StoreMetrics metrics);
}

/// <summary>The standalone store: one <see cref="StoreActor"/>, the guardian's child <c>store</c>.</summary>
public sealed class StandaloneStoreProvider : IStoreProvider
{
    private readonly Func<StoreMetrics, Props> _storeProps;

    /// <summary>A <see cref="StoreActor"/> that holds at most what <paramref name="limits"/> allow.</summary>
    public StandaloneStoreProvider(StoreLimits limits) => _storeProps = metrics => StoreActor.Props(limits, metrics);

    /// <summary>A store of <paramref name="storeProps"/> (a test's stand-in); it counts nothing.</summary>
    public StandaloneStoreProvider(Props storeProps) => _storeProps = _ => storeProps;

    /// <summary>
    /// A <see cref="StoreActor"/> as <paramref name="settings"/> say: its limits, and its dispatcher — event loop 0
    /// with the epoll transport and <c>tcp.event-loops.store-on-loop</c>, so that the connections of loop 0 reach it
    /// without leaving their thread.
    /// </summary>
    public StandaloneStoreProvider(TcpStoreSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        _storeProps = settings.StoreDispatcher is { } dispatcher
            ? metrics => StoreActor.Props(settings.Store, metrics).WithDispatcher(dispatcher)
            : metrics => StoreActor.Props(settings.Store, metrics);
    }

    /// <inheritdoc />
    public IActorRef CreateStore(IActorContext guardian, StoreMetrics metrics) => guardian.ActorOf(_storeProps(metrics), "store");
}

/// <summary>
/// How every store of a system is made, for a mode that is more than one <see cref="IStoreProvider"/> per store
/// (cluster mode's <c>WithTcpStoreCluster</c>): each store's provider, by name, and the catalog that decides which
/// named stores exist (cluster mode: on every node of the cluster).
/// </summary>
public interface IStoreHosting
{
    /// <summary>The provider of the store <paramref name="name"/> with <paramref name="settings"/>.</summary>
    /// <exception cref="global::Akka.Configuration.ConfigurationException">The store cannot run so (the store is not created).</exception>
    IStoreProvider ProviderFor(string name, TcpStoreSettings settings);

    /// <summary>The <see cref="TcpStoreManager"/>'s child to which requests to create or remove named stores not
    /// declared in the configuration go (<see cref="TcpStoreManager.CatalogName"/>); null: the manager makes them.</summary>
    Props? Catalog { get; }
}
