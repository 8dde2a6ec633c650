using System.Security.Cryptography;
using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Akka.DistributedData;
using Akka.Event;
using TcpStore.Akka.Configuration;
using TcpStore.Akka.Connections;
using TcpStore.Akka.Hosting;
using static TcpStore.Akka.Hosting.TcpStoreManager;

namespace TcpStore.Akka.Cluster;

/// <summary>
/// Cluster mode's catalog of the named stores created at run time, one per node (the <see cref="TcpStoreManager"/>'s
/// child <see cref="TcpStoreManager.CatalogName"/>): every node of the role listens on every store's port, so a store
/// exists on all of them or on none.
/// </summary>
/// <remarks>
/// <para>The stores are replicated with Akka.DistributedData (<see cref="Key"/>: name → incarnation and settings),
/// written to a quorum. Each node's catalog subscribes to it and makes its manager's stores match it (at each change and
/// every <c>catalog-interval</c>): a node that was away starts the stores created meanwhile and stops the removed ones.</para>
/// <para>Creating (any node): read the catalog from a quorum (a taken name is refused); ask every reachable Up node of
/// the role to create the store locally (<see cref="Prepare"/>: its listener binds the port, its gateway does not look
/// for the store yet); if any refuses (the port in use there) or does not answer within <c>timeout</c>, all undo it
/// (<see cref="Abort"/>) and the creator hears why; else the store is written to a quorum, every node is told
/// (<see cref="Commit"/>), and its gateways start looking for it, which starts its sharded entity.</para>
/// <para>Removing (any node): remove it from the catalog on a quorum; ask every reachable node to remove it locally
/// (<see cref="Withdraw"/>: connections closed, port freed); then the entity deletes its replicated keys
/// (<see cref="DropStore"/>). A store is created again under a removed one's name with a new incarnation, so on new keys.</para>
/// <para>Two creates of one name at the same instant on two nodes both pass the read; the catalog keeps one (the later
/// write by its clock) and every node converges on it; the other creator may have been told it was created.</para>
/// </remarks>
internal sealed class StoreCatalog : ReceiveActor, IWithTimers
{
    /// <summary>The replicated catalog: store name → <c>INCARNATION</c> newline <c>settings HOCON</c>.</summary>
    public static readonly LWWDictionaryKey<string, string> Key = new("tcpstore-stores");

    /// <summary>The incarnation of the stores declared in the configuration: the same on every node, never removed.</summary>
    public const string DeclaredIncarnation = "config";

    /// <summary>Where a store's incarnation goes in its settings (<see cref="TcpStoreSettings.Section"/>).</summary>
    public const string IncarnationPath = "cluster.store-incarnation";

    /// <summary>A step between the catalogs of the nodes: each names the store incarnation it is about.</summary>
    public interface IStep
    {
        string Name { get; }

        string Incarnation { get; }
    }

    public sealed record Prepare(string Name, string Incarnation, string Settings) : IStep;

    /// <summary>A node's answer to <see cref="Prepare"/>: <paramref name="Failure"/> null when it serves the store.</summary>
    public sealed record Prepared(string Name, string Incarnation, string Node, string? Failure) : IStep;

    public sealed record Commit(string Name, string Incarnation) : IStep;

    public sealed record Abort(string Name, string Incarnation) : IStep;

    public sealed record Withdraw(string Name, string Incarnation) : IStep;

    public sealed record Withdrawn(string Name, string Incarnation) : IStep;

    // From a store's locator: tell it once the store is committed.
    public sealed record AwaitActivation(string Name, string Incarnation);

    public sealed record Activated
    {
        public static readonly Activated Instance = new();
    }

    private sealed record Tick
    {
        public static readonly Tick Instance = new();
    }

    /// <summary>The manager's answer to one of this catalog's local requests.</summary>
    private sealed record LocalDone(string Name, string Incarnation, object Answer);

    private enum Phase { Creating, Serving, Removing }

    /// <summary>A store this node's manager has (or is making, or removing) because of this catalog.</summary>
    private sealed class Local(string incarnation)
    {
        public readonly string Incarnation = incarnation;
        public Phase Phase = Phase.Creating;
        public bool Committed;     // the creator wrote it to a quorum (or this node saw it in the catalog)
        public bool Seen;          // this node's replica of the catalog has shown it: its absence now means removal
        public DateTime KeepUntil; // a prepared store not yet seen is kept until then
        public readonly List<IActorRef> PrepareReplies = [];
        public readonly List<IActorRef> WithdrawReplies = [];
        public bool Aborted;
    }

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ClusterStoreSettings _settings;
    private readonly IActorRef _replicator;
    private readonly IActorRef _region;
    private readonly IActorRef _manager;
    private readonly global::Akka.Cluster.Cluster _cluster;
    private readonly Dictionary<string, (string Incarnation, string Settings)> _catalog = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Local> _local = new(StringComparer.Ordinal);
    private readonly Dictionary<(string, string), List<IActorRef>> _awaiting = [];
    private readonly HashSet<string> _failing = new(StringComparer.Ordinal); // stores this node could not start (logged once)
    // Incarnations withdrawn here (removed): never started again from a replica of the catalog that still shows them.
    private readonly HashSet<string> _withdrawn = new(StringComparer.Ordinal);
    private readonly HashSet<Address> _up = [];
    private readonly HashSet<Address> _unreachable = [];

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(ClusterStoreSettings settings, IActorRef replicator, IActorRef region) =>
        global::Akka.Actor.Props.Create(() => new StoreCatalog(settings, replicator, region));

    public StoreCatalog(ClusterStoreSettings settings, IActorRef replicator, IActorRef region)
    {
        _settings = settings;
        _replicator = replicator;
        _region = region;
        _manager = Context.Parent;
        _cluster = global::Akka.Cluster.Cluster.Get(Context.System);

        Receive<CreateStore>(Create);
        Receive<RemoveStore>(Remove);
        Receive<Prepare>(OnPrepare);
        Receive<Commit>(commit =>
        {
            if (_local.TryGetValue(commit.Name, out var local) && local.Incarnation == commit.Incarnation) local.Committed = true;
            Activate(commit.Name, commit.Incarnation);
        });
        Receive<Abort>(abort =>
        {
            if (!_local.TryGetValue(abort.Name, out var local) || local.Incarnation != abort.Incarnation || local.Committed) return;
            _log.Info("Store {0}: its creation was undone; removing it from this node", abort.Name);
            local.Aborted = true;
            if (local.Phase == Phase.Serving) RemoveLocally(abort.Name, local); // Creating: once its start has an outcome
        });
        Receive<Withdraw>(withdraw =>
        {
            if (!_local.TryGetValue(withdraw.Name, out var local) || local.Incarnation != withdraw.Incarnation)
            {
                _withdrawn.Add(withdraw.Incarnation);
                Sender.Tell(new Withdrawn(withdraw.Name, withdraw.Incarnation));
                return;
            }
            _withdrawn.Add(withdraw.Incarnation);
            local.WithdrawReplies.Add(Sender);
            local.Committed = false;
            local.Aborted = true;
            if (local.Phase == Phase.Serving) RemoveLocally(withdraw.Name, local);
        });
        Receive<AwaitActivation>(await =>
        {
            if (IsCommitted(await.Name, await.Incarnation)) Sender.Tell(Activated.Instance);
            else
            {
                var key = (await.Name, await.Incarnation);
                if (!_awaiting.TryGetValue(key, out var waiting)) _awaiting[key] = waiting = [];
                waiting.Add(Sender);
            }
        });
        Receive<LocalDone>(Done);
        Receive<Changed>(changed =>
        {
            if (changed.Key.Equals(Key)) Learn(changed.Get(Key));
        });
        Receive<Tick>(_ => Reconcile());
        Receive<ClusterEvent.IMemberEvent>(e =>
        {
            if (_settings.Role.Length > 0 && !e.Member.HasRole(_settings.Role)) return;
            if (e is ClusterEvent.MemberUp) _up.Add(e.Member.Address);
            else if (e is ClusterEvent.MemberRemoved or ClusterEvent.MemberExited or ClusterEvent.MemberLeft or ClusterEvent.MemberDowned)
            {
                _up.Remove(e.Member.Address);
                _unreachable.Remove(e.Member.Address);
            }
        });
        Receive<ClusterEvent.UnreachableMember>(e => _unreachable.Add(e.Member.Address));
        Receive<ClusterEvent.ReachableMember>(e => _unreachable.Remove(e.Member.Address));
    }

    protected override void PreStart()
    {
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));
        _replicator.Tell(Dsl.Subscribe(Key, Self));
        Timers.StartPeriodicTimer(Tick.Instance, Tick.Instance, _settings.CatalogInterval);
    }

    protected override void PostStop()
    {
        _cluster.Unsubscribe(Self);
        _replicator.Tell(Dsl.Unsubscribe(Key, Self));
    }

    // ---- Requests of users (through the manager, which checked the name and that this node has no such store) ----

    private void Create(CreateStore create)
    {
        var port = create.Overrides is { } overrides && overrides.HasPath("port") ? overrides.GetInt("port") : 0;
        if (port == 0)
        {
            Sender.Tell(new StoreNotCreated(create.Name,
                "cluster mode: a named store needs a port of its own, the same on every node (port 0 would pick a " +
                "different free port on each node); give it one"));
            return;
        }
        if (!_up.Contains(_cluster.SelfAddress))
        {
            Sender.Tell(new StoreNotCreated(create.Name, "cluster mode: this node is not Up yet (the cluster has not formed)"));
            return;
        }

        var incarnation = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var settings = create.Overrides!.Root.ToString();
        var nodes = Catalogs();
        _log.Info("Store {0}: creating it on {1} nodes ({2})", create.Name, nodes.Count, string.Join(", ", nodes.Select(n => n.Address)));
        CreateAsync(create.Name, incarnation, settings, nodes)
            .PipeTo(Sender, failure: e => new StoreNotCreated(create.Name, e.Message));
    }

    private void Remove(RemoveStore remove)
    {
        var nodes = Catalogs();
        RemoveAsync(remove.Name, nodes).PipeTo(Sender, failure: e => new StoreNotRemoved(remove.Name, e.Message));
    }

    /// <summary>The catalogs of the reachable Up nodes of the role, this node's included.</summary>
    private List<(Address Address, ActorSelection Catalog)> Catalogs() =>
        _up.Where(a => !_unreachable.Contains(a))
            .Select(a => (a, Context.ActorSelection(new RootActorPath(a) / Self.Path.Elements)))
            .ToList();

    private async Task<object> CreateAsync(string name, string incarnation, string settings, List<(Address Address, ActorSelection Catalog)> nodes)
    {
        var timeout = _settings.CatalogTimeout;
        var read = await ReadAsync().ConfigureAwait(false);
        if (read.ContainsKey(name)) return new StoreNotCreated(name, $"a store named \"{name}\" exists");

        var prepare = new Prepare(name, incarnation, settings);
        var answers = await Task.WhenAll(nodes.Select(async node =>
        {
            try
            {
                return await node.Catalog.Ask<Prepared>(prepare, timeout).ConfigureAwait(false);
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
            {
                return new Prepared(name, incarnation, node.Address.ToString(), $"no answer within {timeout.TotalSeconds:0.#} s");
            }
        })).ConfigureAwait(false);
        var refusals = answers.Where(a => a.Failure is not null).Select(a => $"on {a.Node}: {a.Failure}").ToList();
        if (refusals.Count == 0)
        {
            var written = await _replicator.Ask<IUpdateResponse>(Dsl.Update(Key, LWWDictionary<string, string>.Empty, _settings.WriteQuorum,
                catalog => catalog.Merge(read).SetItem(_cluster, name, incarnation + "\n" + settings)), timeout + timeout).ConfigureAwait(false);
            if (written is UpdateSuccess)
            {
                foreach (var node in nodes) node.Catalog.Tell(new Commit(name, incarnation));
                return await CreatedHereAsync(name, timeout).ConfigureAwait(false);
            }
            refusals.Add($"the catalog could not be written to a quorum of {_settings.Quorum} ({written})");
            // A write that timed out may still reach a replica: take it back, so that no node starts it later.
            _replicator.Tell(Dsl.Update(Key, LWWDictionary<string, string>.Empty, _settings.WriteQuorum,
                catalog => catalog.TryGetValue(name, out var value) && value.StartsWith(incarnation + "\n", StringComparison.Ordinal)
                    ? catalog.Remove(_cluster, name) : catalog));
        }
        foreach (var node in nodes) node.Catalog.Tell(new Abort(name, incarnation));
        return new StoreNotCreated(name, "cluster mode: not created on every node, so on none: " + string.Join("; ", refusals));
    }

    /// <summary>What the creator hears: where the store listens on this node, as standalone.</summary>
    private async Task<object> CreatedHereAsync(string name, TimeSpan timeout)
    {
        var info = await _manager.Ask<StoreInfo>(new GetStore(name), timeout).ConfigureAwait(false);
        var binding = await info.Components.Listener.Ask<TcpStoreListener.Binding>(TcpStoreListener.GetBinding.Instance, timeout)
            .ConfigureAwait(false);
        return binding.LocalAddress is { } address
            ? new StoreCreated(name, address, info.Components)
            : new StoreNotCreated(name, $"it was created but does not listen here: {binding.Failure}");
    }

    private async Task<object> RemoveAsync(string name, List<(Address Address, ActorSelection Catalog)> nodes)
    {
        var timeout = _settings.CatalogTimeout;
        var read = await ReadAsync().ConfigureAwait(false);
        if (!read.TryGetValue(name, out var value)) return new StoreNotFound(name);
        var incarnation = value[..value.IndexOf('\n', StringComparison.Ordinal)];

        var written = await _replicator.Ask<IUpdateResponse>(Dsl.Update(Key, LWWDictionary<string, string>.Empty, _settings.WriteQuorum,
            current => current.Merge(read).Remove(_cluster, name)), timeout + timeout).ConfigureAwait(false);
        if (written is not UpdateSuccess)
            return new StoreNotRemoved(name, $"cluster mode: the catalog could not be written to a quorum of {_settings.Quorum} ({written})");

        // Every reachable node closes its connections and frees the port; a node that does not answer in time does so
        // when its catalog next compares its stores with the replicated one.
        await Task.WhenAll(nodes.Select(async node =>
        {
            try
            {
                await node.Catalog.Ask<Withdrawn>(new Withdraw(name, incarnation), timeout).ConfigureAwait(false);
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
            {
            }
        })).ConfigureAwait(false);

        var entity = $"{name}.{incarnation}";
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await _region.Ask<StoreDropped>(new DropStore(entity), timeout).ConfigureAwait(false);
                return new StoreRemoved(name);
            }
            catch (Exception e) when (attempt < 3 && e is AskTimeoutException or TaskCanceledException)
            {
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
            {
                return new StoreNotRemoved(name,
                    $"cluster mode: removed from every node, but its replicated keys were not deleted within {3 * timeout.TotalSeconds:0} s");
            }
        }
    }

    /// <summary>
    /// The catalog as a quorum has it. A change made next merges it first: the replicator repairs its local replica
    /// with what a read found, but that repair and the next update come from different senders, so the update may run
    /// on the replica as it was (a removal of an entry it has not seen removes nothing).
    /// </summary>
    private async Task<LWWDictionary<string, string>> ReadAsync()
    {
        var timeout = _settings.CatalogTimeout;
        var read = await _replicator.Ask<IGetResponse>(Dsl.Get(Key, _settings.ReadQuorum), timeout + timeout).ConfigureAwait(false);
        return read switch
        {
            GetSuccess success => success.Get(Key),
            NotFound => LWWDictionary<string, string>.Empty,
            _ => throw new InvalidOperationException($"cluster mode: the catalog of stores could not be read from a quorum of {_settings.Quorum} ({read})"),
        };
    }

    // ---- This node's stores ----

    private void OnPrepare(Prepare prepare)
    {
        if (_local.TryGetValue(prepare.Name, out var local))
        {
            if (local.Incarnation != prepare.Incarnation)
                Sender.Tell(new Prepared(prepare.Name, prepare.Incarnation, _cluster.SelfAddress.ToString(), $"a store named \"{prepare.Name}\" exists"));
            else if (local.Phase == Phase.Serving) Sender.Tell(new Prepared(prepare.Name, prepare.Incarnation, _cluster.SelfAddress.ToString(), null));
            else local.PrepareReplies.Add(Sender);
            return;
        }
        local = CreateLocally(prepare.Name, prepare.Incarnation, prepare.Settings);
        local.KeepUntil = DateTime.UtcNow + 3 * _settings.CatalogTimeout;
        local.PrepareReplies.Add(Sender);
    }

    private Local CreateLocally(string name, string incarnation, string settings)
    {
        var local = _local[name] = new Local(incarnation);
        var overrides = ConfigurationFactory.ParseString($"{IncarnationPath} = \"{incarnation}\"")
            .WithFallback(ConfigurationFactory.ParseString(settings));
        var self = Self;
        Context.Parent.Ask(new CreateStore(name, overrides, Local: true), _settings.CatalogTimeout)
            .PipeTo(self, success: answer => new LocalDone(name, incarnation, answer),
                failure: e => new LocalDone(name, incarnation, new StoreNotCreated(name, e.Message)));
        return local;
    }

    private void RemoveLocally(string name, Local local)
    {
        local.Phase = Phase.Removing;
        var self = Self;
        var incarnation = local.Incarnation;
        Context.Parent.Ask(new RemoveStore(name, Local: true), _settings.CatalogTimeout)
            .PipeTo(self, success: answer => new LocalDone(name, incarnation, answer),
                failure: e => new LocalDone(name, incarnation, new StoreNotRemoved(name, e.Message)));
    }

    private void Done(LocalDone done)
    {
        if (!_local.TryGetValue(done.Name, out var local) || local.Incarnation != done.Incarnation) return;
        var node = _cluster.SelfAddress.ToString();
        switch (done.Answer)
        {
            case StoreCreated:
                local.Phase = Phase.Serving;
                if (_failing.Remove(done.Name)) _log.Info("Store {0} now serves on this node", done.Name);
                foreach (var reply in local.PrepareReplies) reply.Tell(new Prepared(done.Name, done.Incarnation, node, null));
                local.PrepareReplies.Clear();
                if (local.Aborted) RemoveLocally(done.Name, local);
                break;
            case StoreNotCreated refused:
                _local.Remove(done.Name);
                foreach (var reply in local.PrepareReplies) reply.Tell(new Prepared(done.Name, done.Incarnation, node, refused.Reason));
                foreach (var reply in local.WithdrawReplies) reply.Tell(new Withdrawn(done.Name, done.Incarnation));
                if (local.PrepareReplies.Count == 0 && _failing.Add(done.Name))
                    _log.Error("Store {0} is in the cluster's catalog but cannot start on this node: {1}. Trying again every {2} s",
                        done.Name, refused.Reason, _settings.CatalogInterval.TotalSeconds);
                break;
            case StoreRemoved or StoreNotFound:
                _local.Remove(done.Name);
                foreach (var reply in local.WithdrawReplies) reply.Tell(new Withdrawn(done.Name, done.Incarnation));
                break;
            default:
                // A removal that did not answer in time: as it was, tried again at the next comparison.
                _log.Warning("Store {0}: this node's manager answered {1}", done.Name, done.Answer);
                local.Phase = Phase.Serving;
                break;
        }
    }

    private bool IsCommitted(string name, string incarnation) => !_withdrawn.Contains(incarnation) &&
        ((_catalog.TryGetValue(name, out var entry) && entry.Incarnation == incarnation) ||
        (_local.TryGetValue(name, out var local) && local.Incarnation == incarnation && local.Committed));

    private void Activate(string name, string incarnation)
    {
        if (!_awaiting.Remove((name, incarnation), out var waiting)) return;
        foreach (var locator in waiting) locator.Tell(Activated.Instance);
    }

    private void Learn(LWWDictionary<string, string> catalog)
    {
        _catalog.Clear();
        foreach (var (name, value) in catalog.Entries)
        {
            var newline = value.IndexOf('\n', StringComparison.Ordinal);
            _catalog[name] = (value[..newline], value[(newline + 1)..]);
        }
        _withdrawn.IntersectWith(_catalog.Values.Select(e => e.Incarnation)); // gone from this replica too: forgotten
        Reconcile();
    }

    /// <summary>Makes this node's stores match the catalog: starts what it lacks, stops what was removed.</summary>
    private void Reconcile()
    {
        foreach (var (name, (incarnation, settings)) in _catalog)
        {
            if (_withdrawn.Contains(incarnation)) continue; // removed; this replica has not heard yet
            if (!_local.TryGetValue(name, out var local))
            {
                if (!_up.Contains(_cluster.SelfAddress)) continue; // not before this node is Up: its prepares come first
                local = CreateLocally(name, incarnation, settings);
            }
            if (local.Incarnation != incarnation)
            {
                // Removed and created again while this node was away: the old one goes first, the new one next time.
                if (local.Phase == Phase.Serving) RemoveLocally(name, local);
                continue;
            }
            local.Seen = local.Committed = true;
            local.Aborted = false;
            Activate(name, incarnation);
        }

        var now = DateTime.UtcNow;
        foreach (var (name, local) in _local.ToList())
        {
            if (local.Phase != Phase.Serving || _catalog.TryGetValue(name, out var entry) && entry.Incarnation == local.Incarnation) continue;
            if (!local.Seen && now < local.KeepUntil) continue; // prepared or committed, and this replica has not seen it yet
            _log.Info("Store {0} is no longer in the cluster's catalog: removing it from this node", name);
            RemoveLocally(name, local);
        }
    }
}
