using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using TcpStore.Akka.Configuration;
using TcpStore.Akka.Connections;
using TcpStore.Akka.Store;

namespace TcpStore.Akka.Hosting;

/// <summary>Akka.Hosting entry points: <c>builder.WithTcpStore(...)</c> and <c>builder.WithTcpStores(...)</c>.</summary>
public static class TcpStoreHostingExtensions
{
    /// <summary>The name of the store manager (<c>/user/tcpstore</c>); each store is its child, named as the store.</summary>
    public const string ManagerName = "tcpstore";

    /// <summary>How long a start waits for the manager to report a store (it serves within milliseconds).</summary>
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Runs a TcpStore server in this actor system, on <paramref name="host"/>:<paramref name="port"/>
    /// when given, else as configured under <c>tcpstore</c>.</summary>
    public static AkkaConfigurationBuilder WithTcpStore(
        this AkkaConfigurationBuilder builder, string? host = null, int? port = null) =>
        builder.WithTcpStore(new TcpStoreOptions { Host = host, Port = port });

    /// <summary>Runs a TcpStore server in this actor system, with options set by <paramref name="configure"/>.</summary>
    public static AkkaConfigurationBuilder WithTcpStore(
        this AkkaConfigurationBuilder builder, Action<TcpStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var options = new TcpStoreOptions();
        configure(options);
        return builder.WithTcpStore(options);
    }

    /// <summary>Runs a standalone TcpStore server in this actor system: the store named <c>default</c>.</summary>
    public static AkkaConfigurationBuilder WithTcpStore(this AkkaConfigurationBuilder builder, TcpStoreOptions options) =>
        builder.WithTcpStore(options, storeProvider: null);

    /// <summary>
    /// Runs a TcpStore server in this actor system, the store named <c>default</c>, whose store comes from
    /// <paramref name="storeProvider"/>; null runs the standalone <see cref="StoreActor"/>. Named stores run standalone.
    /// See <see cref="WithTcpStore(AkkaConfigurationBuilder, TcpStoreOptions, Func{ActorSystem, Task{IStoreHosting}})"/>.
    /// </summary>
    public static AkkaConfigurationBuilder WithTcpStore(
        this AkkaConfigurationBuilder builder,
        TcpStoreOptions options,
        Func<ActorSystem, TcpStoreSettings, IStoreProvider>? storeProvider) =>
        builder.WithTcpStore(options, storeProvider is null
            ? null
            : system => Task.FromResult<IStoreHosting>(new DefaultStoreHosting(system, storeProvider)));

    /// <summary>
    /// Runs a TcpStore server in this actor system, the store named <c>default</c> and those declared under
    /// <c>tcpstore.stores</c>, every store made as <paramref name="hosting"/> says (cluster mode's
    /// <c>WithTcpStoreCluster</c> passes its own); null runs them standalone. The options' HOCON goes first, the embedded
    /// defaults last, so that any HOCON the host adds in between still overrides the defaults. The
    /// <see cref="TcpStoreManager"/>, and the default store's <see cref="TcpStoreGuardian"/>, store
    /// (<see cref="StoreEndpoint"/>) and <see cref="TcpStoreListener"/>, are registered in the <see cref="ActorRegistry"/>
    /// before the host's start completes, so no lookup after it can miss them; a store that cannot bind its port fails
    /// the host's start with a <see cref="TcpStoreStartException"/>. The health checks (<see cref="TcpStoreHealthChecks"/>)
    /// are registered with <c>WithHealthCheck</c>.
    /// </summary>
    public static AkkaConfigurationBuilder WithTcpStore(
        this AkkaConfigurationBuilder builder,
        TcpStoreOptions options,
        Func<ActorSystem, Task<IStoreHosting>>? hosting)
    {
        ArgumentNullException.ThrowIfNull(options);
        var hocon = options.ToConfig();
        if (!hocon.IsEmpty) builder.AddHocon(hocon, HoconAddMode.Prepend);
        return builder
            .AddHocon(TcpStoreSettings.DefaultConfig(), HoconAddMode.Append)
            .WithActors(async (system, _) =>
            {
                var made = hosting is null ? null : await hosting(system).ConfigureAwait(false);
                await system.StartTcpStoreAsync(TcpStoreManager.DefaultStoreName, storeProvider: made is null ? null : made.ProviderFor,
                    catalog: made?.Catalog).ConfigureAwait(false);
                await system.StartDeclaredTcpStoresAsync().ConfigureAwait(false);
            })
            .WithTcpStoreHealthChecks();
    }

    /// <summary>A provider for the default store only: named stores run standalone, as before cluster mode had its own.</summary>
    private sealed class DefaultStoreHosting(ActorSystem system, Func<ActorSystem, TcpStoreSettings, IStoreProvider> provider) : IStoreHosting
    {
        public IStoreProvider ProviderFor(string name, TcpStoreSettings settings) =>
            name == TcpStoreManager.DefaultStoreName ? provider(system, settings) : new StandaloneStoreProvider(settings);

        public Props? Catalog => null;
    }

    /// <summary>
    /// Runs the named stores <paramref name="stores"/> (name → options) in this actor system, each with its own
    /// port, keys and limits; options not set inherit <c>tcpstore</c> (and <c>tcpstore.stores.&lt;name&gt;</c>).
    /// Stores declared under <c>tcpstore.stores</c> start too. More can be created and removed at run time through
    /// the <see cref="TcpStoreManager"/> (registered in the <see cref="ActorRegistry"/>) or a
    /// <see cref="TcpStoreManagerClient"/>.
    /// </summary>
    public static AkkaConfigurationBuilder WithTcpStores(
        this AkkaConfigurationBuilder builder, IReadOnlyDictionary<string, TcpStoreOptions>? stores = null)
    {
        var declared = stores?.ToDictionary(s => s.Key, s => s.Value.ToConfig()) ?? [];
        return builder
            .AddHocon(TcpStoreSettings.DefaultConfig(), HoconAddMode.Append)
            .WithActors(async (system, _) =>
            {
                foreach (var (name, overrides) in declared)
                {
                    var section = overrides.HasPath(TcpStoreSettings.ConfigPath)
                        ? overrides.GetConfig(TcpStoreSettings.ConfigPath)
                        : Config.Empty;
                    await system.StartTcpStoreAsync(name, section).ConfigureAwait(false);
                }
                await system.StartDeclaredTcpStoresAsync().ConfigureAwait(false);
            })
            .WithTcpStoreHealthChecks();
    }

    /// <summary>
    /// Starts the store named <paramref name="name"/> in <paramref name="system"/>, and the
    /// <see cref="TcpStoreManager"/> first if the system has none (<paramref name="storeProvider"/> then decides where
    /// its stores come from), and returns once it serves. The manager is registered in the system's
    /// <see cref="ActorRegistry"/>; so is the default store: its guardian as <see cref="TcpStoreGuardian"/>, its store
    /// as <see cref="StoreEndpoint"/>, its listener as <see cref="TcpStoreListener"/>. <c>WithTcpStore</c> calls it
    /// while the host starts; a system built without Akka.Hosting may call it itself.
    /// </summary>
    /// <exception cref="TcpStoreStartException">The store could not be created (a port in use, a bad setting, …).</exception>
    public static async Task<TcpStoreManager.StoreCreated> StartTcpStoreAsync(
        this ActorSystem system, string name = TcpStoreManager.DefaultStoreName, Config? overrides = null,
        Func<string, TcpStoreSettings, IStoreProvider>? storeProvider = null, Props? catalog = null)
    {
        var manager = EnsureManager(system, storeProvider, catalog);
        var answer = await manager.Ask(new TcpStoreManager.CreateStore(name, overrides), StartTimeout).ConfigureAwait(false);
        if (answer is not TcpStoreManager.StoreCreated created)
            throw new TcpStoreStartException(name, (answer as TcpStoreManager.StoreNotCreated)?.Reason ?? $"unexpected answer {answer}");

        if (name == TcpStoreManager.DefaultStoreName)
        {
            var registry = ActorRegistry.For(system);
            var info = await manager.Ask<TcpStoreManager.StoreInfo>(new TcpStoreManager.GetStore(name), StartTimeout)
                .ConfigureAwait(false);
            registry.Register<TcpStoreGuardian>(info.Guardian);
            registry.Register<StoreEndpoint>(created.Components.Store);
            registry.Register<TcpStoreListener>(created.Components.Listener);
        }

        return created;
    }

    /// <summary>Starts every store declared under <c>tcpstore.stores</c> that is not running yet.</summary>
    private static async Task StartDeclaredTcpStoresAsync(this ActorSystem system)
    {
        var tcpstore = system.Settings.Config.GetConfig(TcpStoreSettings.ConfigPath);
        if (tcpstore is null || !tcpstore.HasPath("stores")) return;
        var manager = EnsureManager(system, null, null);
        foreach (var name in tcpstore.GetConfig("stores").AsEnumerable().Select(e => e.Key.Split('.')[0]).Distinct())
        {
            if (await manager.Ask(new TcpStoreManager.GetStore(name), StartTimeout).ConfigureAwait(false) is TcpStoreManager.StoreInfo)
                continue;
            await system.StartTcpStoreAsync(name).ConfigureAwait(false);
        }
    }

    /// <summary>The system's store manager, created (and registered) by the first start.</summary>
    private static IActorRef EnsureManager(ActorSystem system, Func<string, TcpStoreSettings, IStoreProvider>? storeProvider, Props? catalog)
    {
        var registry = ActorRegistry.For(system);
        if (registry.TryGet<TcpStoreManager>(out var manager)) return manager;
        TcpStoreSettings.Create(system); // injects the embedded defaults as the configuration's fallback
        var tcpstore = system.Settings.Config.GetConfig(TcpStoreSettings.ConfigPath);
        manager = system.ActorOf(TcpStoreManager.Props(tcpstore, storeProvider, catalog), ManagerName);
        registry.Register<TcpStoreManager>(manager);
        return manager;
    }
}

/// <summary>A store could not be started: its name, and why (a port in use, a bad setting, a limit).</summary>
public sealed class TcpStoreStartException(string store, string reason)
    : Exception($"TcpStore store \"{store}\" could not start: {reason}")
{
    /// <summary>The store's name.</summary>
    public string Store { get; } = store;

    /// <summary>Why it could not start.</summary>
    public string Reason { get; } = reason;
}

/// <summary>A store could not be removed: its name, and why (cluster mode: it is declared in the configuration).</summary>
public sealed class TcpStoreRemoveException(string store, string reason)
    : Exception($"TcpStore store \"{store}\" could not be removed: {reason}")
{
    /// <summary>The store's name.</summary>
    public string Store { get; } = store;

    /// <summary>Why it could not be removed.</summary>
    public string Reason { get; } = reason;
}
