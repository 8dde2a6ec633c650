using System.Net;
using Akka.Actor;
using Akka.Hosting;

namespace TcpStore.Akka.Hosting;

/// <summary>
/// The <see cref="TcpStoreManager"/> for code that is not an actor (a controller, a job scheduler): create, remove and
/// list stores with <c>await</c>. Every call is one message to the manager; nothing is cached here.
/// </summary>
public sealed class TcpStoreManagerClient(IActorRef manager)
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The manager of <paramref name="system"/> (started by <c>WithTcpStore</c>, <c>WithTcpStores</c> or
    /// <c>StartTcpStoreAsync</c>).</summary>
    public static TcpStoreManagerClient For(ActorSystem system) => new(ActorRegistry.For(system).Get<TcpStoreManager>());

    /// <summary>
    /// Creates the store <paramref name="name"/>, listening as <paramref name="options"/> say (port 0 picks a free one;
    /// options not set inherit <c>tcpstore</c>), and returns where it serves once it does.
    /// </summary>
    /// <exception cref="TcpStoreStartException">Nothing was created: a bad or taken name, a port in use, a limit.</exception>
    public async Task<EndPoint> CreateStoreAsync(string name, TcpStoreOptions? options = null, CancellationToken cancellationToken = default)
    {
        var overrides = options?.ToConfig();
        var section = overrides is not null && overrides.HasPath(Configuration.TcpStoreSettings.ConfigPath)
            ? overrides.GetConfig(Configuration.TcpStoreSettings.ConfigPath)
            : null;
        var answer = await manager.Ask(new TcpStoreManager.CreateStore(name, section), DefaultTimeout, cancellationToken)
            .ConfigureAwait(false);
        return answer switch
        {
            TcpStoreManager.StoreCreated created => created.Address,
            TcpStoreManager.StoreNotCreated refused => throw new TcpStoreStartException(name, refused.Reason),
            _ => throw new TcpStoreStartException(name, $"unexpected answer {answer}"),
        };
    }

    /// <summary>
    /// Removes the store <paramref name="name"/>: its connections are closed (waiting clients see them drop), its port
    /// is free and its keys are gone when this returns true; false when there is no such store.
    /// </summary>
    /// <exception cref="TcpStoreRemoveException">The store was not removed (cluster mode: it is declared in the
    /// configuration, or the cluster could not agree on its removal).</exception>
    public async Task<bool> RemoveStoreAsync(string name, CancellationToken cancellationToken = default) =>
        await manager.Ask(new TcpStoreManager.RemoveStore(name), DefaultTimeout, cancellationToken).ConfigureAwait(false) switch
        {
            TcpStoreManager.StoreRemoved => true,
            TcpStoreManager.StoreNotRemoved refused => throw new TcpStoreRemoveException(name, refused.Reason),
            _ => false,
        };

    /// <summary>Every store that serves, by name: where it listens, its connections, keys and waiting connections.</summary>
    public async Task<IReadOnlyList<TcpStoreManager.StoreSummary>> ListStoresAsync(CancellationToken cancellationToken = default) =>
        (await manager.Ask<TcpStoreManager.StoreList>(TcpStoreManager.ListStores.Instance, DefaultTimeout, cancellationToken)
            .ConfigureAwait(false)).Stores;
}
