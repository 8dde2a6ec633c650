using System.Net;
using System.Text.RegularExpressions;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using TcpStore.Akka.Configuration;
using TcpStore.Akka.Connections;
using TcpStore.Akka.Store;

namespace TcpStore.Akka.Hosting;

/// <summary>
/// The stores of one actor system, by name: one <see cref="TcpStoreGuardian"/> each (its own listener, port, map,
/// queues, waiters and limits), created and removed at run time. A store is answered for only once it serves
/// (<see cref="StoreCreated"/> after its listener has bound) or once it is gone (<see cref="StoreRemoved"/> after its
/// port is free, its connections closed and its keys dropped); a store that cannot be made leaves nothing behind.
/// Stores never touch each other: each guardian supervises its own children, and the manager resumes a guardian that
/// fails.
/// </summary>
public sealed partial class TcpStoreManager : ReceiveActor
{
    /// <summary>The store <c>WithTcpStore</c> runs, and the one the standalone server serves on its port.</summary>
    public const string DefaultStoreName = "default";

    /// <summary>Creates a store named <paramref name="Name"/> with its settings from <c>tcpstore.stores.&lt;name&gt;</c>
    /// over <c>tcpstore</c>, and <paramref name="Overrides"/> (a <c>tcpstore</c> section, e.g.
    /// <c>TcpStoreOptions.ToConfig()</c>) over both. Answered with <see cref="StoreCreated"/> or <see cref="StoreNotCreated"/>.
    /// In cluster mode a named store not declared in the configuration is created on every node of the cluster (by
    /// the catalog); <paramref name="Local"/> creates it on this node only (the catalog's own requests).</summary>
    public sealed record CreateStore(string Name, Config? Overrides = null, bool Local = false);

    /// <summary>The store serves on <paramref name="Address"/>.</summary>
    public sealed record StoreCreated(string Name, EndPoint Address, TcpStoreGuardian.Components Components);

    /// <summary>Nothing was created, for <paramref name="Reason"/> (a bad or taken name, a port in use, a limit).</summary>
    public sealed record StoreNotCreated(string Name, string Reason);

    /// <summary>Removes a store: closes its connections (waiting clients see them drop), frees its port, drops its
    /// keys. Answered with <see cref="StoreRemoved"/> once all of that is done, <see cref="StoreNotFound"/>, or (cluster
    /// mode) <see cref="StoreNotRemoved"/>. In cluster mode a store created at run time is removed on every node;
    /// <paramref name="Local"/> removes it from this node only (the catalog's own requests).</summary>
    public sealed record RemoveStore(string Name, bool Local = false);

    public sealed record StoreRemoved(string Name);

    public sealed record StoreNotFound(string Name);

    /// <summary>The store was not removed, for <paramref name="Reason"/> (cluster mode: it is declared in the
    /// configuration of every node, or the cluster could not agree on its removal).</summary>
    public sealed record StoreNotRemoved(string Name, string Reason);

    /// <summary>Ask for every store that serves: answered with <see cref="StoreList"/>, by name, once each store
    /// has answered (a <c>Status.Failure</c> when one does not within <paramref name="Timeout"/>).</summary>
    public sealed record ListStores(TimeSpan? Timeout = null)
    {
        public static readonly ListStores Instance = new();
    }

    /// <summary>One store: where it listens, and what it holds now; <paramref name="Host"/>: in cluster mode, the Akka
    /// address of the node that hosts the store itself (null standalone).</summary>
    public sealed record StoreSummary(string Name, EndPoint? Address, int Connections, int Keys, int WaitingConnections, string? Host = null);

    public sealed record StoreList(IReadOnlyList<StoreSummary> Stores);

    /// <summary>Ask for one store's actors and settings: answered with <see cref="StoreInfo"/> or <see cref="StoreNotFound"/>.</summary>
    public sealed record GetStore(string Name);

    public sealed record StoreInfo(string Name, TcpStoreSettings Settings, IActorRef Guardian, TcpStoreGuardian.Components Components);

    /// <summary>A valid store name: it names an actor, a metric tag, a URL segment and a HOCON path.</summary>
    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")]
    private static partial Regex ValidName();

    public static bool IsValidName(string name) => ValidName().IsMatch(name);

    /// <summary>The manager's child that decides which named stores exist across a cluster (cluster mode); no store
    /// name can take it (a store name starts with a letter or a digit).</summary>
    public const string CatalogName = "_catalog";

    private sealed record StoreBound(string Name, IActorRef Guardian, TcpStoreGuardian.Components Components, TcpStoreListener.Binding Binding);

    private sealed record StoreStartFailed(string Name, IActorRef Guardian, Exception Cause);

    private enum Phase { Starting, Serving, Stopping }

    /// <summary>One store of the table, with whoever waits for it to start or stop.</summary>
    private sealed class Entry(IActorRef guardian, TcpStoreSettings settings, IActorRef creator)
    {
        public readonly IActorRef Guardian = guardian;
        public readonly TcpStoreSettings Settings = settings;
        public Phase Phase = Phase.Starting;
        public IActorRef? Creator = creator;
        public string? CreateFailure;
        public readonly List<IActorRef> Removers = [];
        public TcpStoreGuardian.Components? Components;
        public EndPoint? Address;
    }

    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(10);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Config _tcpstore;
    private readonly StoreManagerSettings _settings;
    private readonly Func<string, TcpStoreSettings, IStoreProvider> _storeProvider;
    private readonly ConnectionBudget _connections;
    private readonly Dictionary<string, Entry> _stores = new(StringComparer.Ordinal);
    private readonly IActorRef? _catalog;

    /// <param name="tcpstore">The system's <c>tcpstore</c> section (defaults included): every store inherits it.</param>
    /// <param name="storeProvider">Where each store (by name and settings) comes from; standalone (a
    /// <see cref="StoreActor"/> of its own) when null.</param>
    /// <param name="catalog">Cluster mode: the child (<see cref="CatalogName"/>) to which requests to create or remove
    /// a named store that the configuration does not declare go, so that they happen on every node; null: here.</param>
    public static Props Props(Config tcpstore, Func<string, TcpStoreSettings, IStoreProvider>? storeProvider = null, Props? catalog = null) =>
        global::Akka.Actor.Props.Create(() => new TcpStoreManager(tcpstore, storeProvider ?? Standalone, catalog));

    /// <summary>The standalone store; cluster mode has its own builder, so a store configured for it refuses here.</summary>
    private static IStoreProvider Standalone(string name, TcpStoreSettings settings) =>
        settings.ClusterEnabled
            ? throw new ConfigurationException(
                $"{TcpStoreSettings.ConfigPath}.cluster.enabled = on, but the store was added with WithTcpStore: cluster " +
                "mode is started with WithTcpStoreCluster (package TcpStore.Akka.Cluster).")
            : new StandaloneStoreProvider(settings);

    /// <summary>Public because Akka creates actors through their public constructors; use <see cref="Props"/>.</summary>
    public TcpStoreManager(Config tcpstore, Func<string, TcpStoreSettings, IStoreProvider> storeProvider, Props? catalog)
    {
        _tcpstore = tcpstore;
        _settings = StoreManagerSettings.Create(tcpstore);
        _storeProvider = storeProvider;
        _connections = new ConnectionBudget(_settings.MaxTotalConnections);
        if (catalog is not null) _catalog = Context.ActorOf(catalog, CatalogName);

        Receive<CreateStore>(Create);
        Receive<StoreBound>(Bound);
        Receive<StoreStartFailed>(failed =>
        {
            if (_stores.TryGetValue(failed.Name, out var entry) && entry.Guardian.Equals(failed.Guardian))
                Abandon(entry, failed.Name, $"it did not start: {failed.Cause.Message}");
        });
        Receive<RemoveStore>(Remove);
        Receive<Terminated>(Stopped);
        Receive<ListStores>(list => List(list.Timeout ?? AskTimeout));
        Receive<GetStore>(get =>
        {
            if (_stores.TryGetValue(get.Name, out var entry) && entry is { Phase: Phase.Serving, Components: { } components })
                Sender.Tell(new StoreInfo(get.Name, entry.Settings, entry.Guardian, components));
            else
                Sender.Tell(new StoreNotFound(get.Name));
        });
    }

    /// <summary>A store that fails is resumed, as a guardian resumes its store: nothing may throw keys away, and no
    /// store's failure reaches another.</summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Resume);

    private void Create(CreateStore create)
    {
        var name = create.Name;
        string? refusal = !IsValidName(name)
            ? $"\"{name}\" is not a store name (letters, digits, '-' and '_', at most 63, starting with a letter or digit)"
            : _stores.ContainsKey(name) ? $"a store named \"{name}\" exists"
            : _stores.Count >= _settings.MaxStores ? $"max-stores ({_settings.MaxStores}) reached"
            : null;
        TcpStoreSettings? settings = null;
        if (refusal is null)
        {
            try
            {
                settings = SettingsOf(name, create.Overrides);
            }
            catch (ConfigurationException e)
            {
                refusal = e.Message;
            }
        }

        if (refusal is not null)
        {
            _log.Warning("Store {0} not created: {1}", name, refusal);
            Sender.Tell(new StoreNotCreated(name, refusal));
            return;
        }

        if (ClusterWide(name, create.Local))
        {
            _catalog!.Forward(create); // it creates the store here too, through a local request, once every node can
            return;
        }

        IActorRef guardian;
        try
        {
            guardian = Context.ActorOf(
                TcpStoreGuardian.Props(settings!, _storeProvider(name, settings!), name, _connections), name);
        }
        catch (Exception e) when (e is ConfigurationException or InvalidActorNameException)
        {
            Sender.Tell(new StoreNotCreated(name, e.Message));
            return;
        }

        Context.Watch(guardian);
        _stores[name] = new Entry(guardian, settings!, Sender);
        var self = Self;
        // The guardian answers once its children exist, the listener once it has bound (or failed to).
        AwaitBindingAsync(name, guardian).PipeTo(self,
            success: bound => bound,
            failure: e => new StoreStartFailed(name, guardian, e));
    }

    private static async Task<StoreBound> AwaitBindingAsync(string name, IActorRef guardian)
    {
        var components = await guardian.Ask<TcpStoreGuardian.Components>(TcpStoreGuardian.GetComponents.Instance, AskTimeout)
            .ConfigureAwait(false);
        var binding = await components.Listener.Ask<TcpStoreListener.Binding>(TcpStoreListener.GetBinding.Instance, AskTimeout)
            .ConfigureAwait(false);
        return new StoreBound(name, guardian, components, binding);
    }

    private void Bound(StoreBound bound)
    {
        if (!_stores.TryGetValue(bound.Name, out var entry) || !entry.Guardian.Equals(bound.Guardian)) return;
        if (bound.Binding.LocalAddress is not { } address)
        {
            Abandon(entry, bound.Name, $"it could not bind: {bound.Binding.Failure}");
            return;
        }

        entry.Components = bound.Components;
        entry.Address = address;
        if (entry.Removers.Count > 0)
        {
            // Removed while it started: it never served.
            Abandon(entry, bound.Name, "it was removed while it started");
            return;
        }

        entry.Phase = Phase.Serving;
        _log.Info("Store {0} serving on {1}", bound.Name, address);
        entry.Creator?.Tell(new StoreCreated(bound.Name, address, bound.Components));
        entry.Creator = null;
    }

    /// <summary>Stops a store that did not start; its creator hears why once nothing of it is left.</summary>
    private void Abandon(Entry entry, string name, string reason)
    {
        _log.Warning("Store {0} not created: {1}", name, reason);
        entry.CreateFailure = reason;
        entry.Phase = Phase.Stopping;
        Context.Stop(entry.Guardian);
    }

    /// <summary>Cluster mode: a named store the configuration does not declare exists on every node or on none.</summary>
    private bool ClusterWide(string name, bool local) =>
        _catalog is not null && !local && name != DefaultStoreName && !_tcpstore.HasPath("stores." + name);

    private void Remove(RemoveStore remove)
    {
        if (_catalog is not null && !remove.Local)
        {
            if (ClusterWide(remove.Name, local: false))
                _catalog.Forward(remove);
            else if (_stores.ContainsKey(remove.Name))
                Sender.Tell(new StoreNotRemoved(remove.Name,
                    $"\"{remove.Name}\" is {(remove.Name == DefaultStoreName ? "the default store" : $"declared in the configuration of every node ({TcpStoreSettings.ConfigPath}.stores.{remove.Name})")}, " +
                    "which cluster mode serves for as long as the cluster runs"));
            else
                Sender.Tell(new StoreNotFound(remove.Name));
            return;
        }

        if (!_stores.TryGetValue(remove.Name, out var entry))
        {
            Sender.Tell(new StoreNotFound(remove.Name));
            return;
        }

        entry.Removers.Add(Sender);
        if (entry.Phase == Phase.Serving)
        {
            entry.Phase = Phase.Stopping;
            _log.Info("Removing store {0}", remove.Name);
            Context.Stop(entry.Guardian);
        }
        // Starting: it is stopped once its start has an outcome (Bound, or the start failure); Stopping: it soon is.
    }

    private void Stopped(Terminated terminated)
    {
        var (name, entry) = _stores.FirstOrDefault(e => e.Value.Guardian.Equals(terminated.ActorRef));
        if (entry is null) return;
        _stores.Remove(name);
        if (entry.Creator is { } creator)
            creator.Tell(new StoreNotCreated(name, entry.CreateFailure ?? "it stopped while it started"));
        foreach (var remover in entry.Removers) remover.Tell(new StoreRemoved(name));
        if (entry.Phase != Phase.Stopping)
            _log.Warning("Store {0} stopped unexpectedly; its keys and connections are gone", name);
    }

    private void List(TimeSpan timeout)
    {
        var serving = _stores.Where(e => e.Value is { Phase: Phase.Serving, Components: not null }).ToList();
        SummarizeAsync(serving.Select(e => (e.Key, e.Value.Address, e.Value.Components!)).ToList(), timeout)
            .PipeTo(Sender, failure: e => new global::Akka.Actor.Status.Failure(e));
    }

    private static async Task<StoreList> SummarizeAsync(
        IReadOnlyList<(string Name, EndPoint? Address, TcpStoreGuardian.Components Components)> stores, TimeSpan timeout)
    {
        var summaries = await Task.WhenAll(stores.Select(async store =>
        {
            var connections = store.Components.Listener.Ask<int>(TcpStoreListener.GetConnectionCount.Instance, timeout);
            var stats = store.Components.Store.Ask<StoreProtocol.StoreStats>(StoreProtocol.GetStats.Instance, timeout);
            var held = await stats.ConfigureAwait(false);
            return new StoreSummary(store.Name, store.Address, await connections.ConfigureAwait(false), held.Keys,
                held.WaitingConnections, held.Host);
        })).ConfigureAwait(false);
        return new StoreList(summaries.OrderBy(s => s.Name, StringComparer.Ordinal).ToList());
    }

    /// <summary>
    /// A store's settings: <paramref name="overrides"/>, then <c>tcpstore.stores.&lt;name&gt;</c>, then <c>tcpstore</c>
    /// (which holds the embedded defaults) — but for the port: <c>tcpstore.port</c> is the default store's, and a named
    /// store given no port of its own takes a free one.
    /// </summary>
    private TcpStoreSettings SettingsOf(string name, Config? overrides)
    {
        var own = _tcpstore.HasPath("stores." + name) ? _tcpstore.GetConfig("stores." + name) : Config.Empty;
        overrides ??= Config.Empty;
        if (name != DefaultStoreName && !own.HasPath("port") && !overrides.HasPath("port"))
            own = ConfigurationFactory.ParseString("port = 0").WithFallback(own);
        var section = own.WithFallback(_tcpstore);
        if (!overrides.IsEmpty) section = overrides.WithFallback(section);
        return TcpStoreSettings.Create(section);
    }
}

/// <summary>The store manager's slice of the settings: limits over all stores together.</summary>
/// <param name="MaxStores"><c>tcpstore.max-stores</c>: stores at most; one more is refused.</param>
/// <param name="MaxTotalConnections"><c>tcpstore.limits.max-total-connections</c>: connections of all stores together.</param>
public sealed record StoreManagerSettings(int MaxStores, int MaxTotalConnections)
{
    public static StoreManagerSettings Create(Config tcpstore) => new(
        SettingsReader.Positive(tcpstore, "max-stores"),
        SettingsReader.Positive(tcpstore, "limits.max-total-connections"));
}
