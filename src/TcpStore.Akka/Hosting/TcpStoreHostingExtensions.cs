using Akka.Hosting;

namespace TcpStore.Akka.Hosting;

/// <summary>Akka.Hosting entry points: <c>builder.WithTcpStore(...)</c>.</summary>
public static class TcpStoreHostingExtensions
{
    /// <summary>The name of the guardian actor (<c>/user/tcpstore</c>).</summary>
    public const string GuardianName = "tcpstore";

    /// <summary>Runs a TcpStore server in this actor system, on <paramref name="host"/>:<paramref name="port"/>
    /// when given, else as configured under <c>tcpstore</c>.</summary>
    public static AkkaConfigurationBuilder WithTcpStore(
        this AkkaConfigurationBuilder builder, string? host = null, int? port = null) =>
        builder.WithTcpStore(new TcpStoreOptions { Host = host, Port = port });

    /// <summary>Runs a TcpStore server in this actor system, with options set by <paramref name="configure"/>.</summary>
    public static AkkaConfigurationBuilder WithTcpStore(
        this AkkaConfigurationBuilder builder, Action<TcpStoreOptions> configure)
    {
        var options = new TcpStoreOptions();
        configure(options);
        return builder.WithTcpStore(options);
    }

    /// <summary>
    /// Runs a TcpStore server in this actor system. The options' HOCON goes first, the embedded defaults last, so
    /// that any HOCON the host adds in between still overrides the defaults. The <see cref="TcpStoreGuardian"/> and
    /// its store and listener are registered in the <see cref="ActorRegistry"/>. The listener and store health checks
    /// (<see cref="TcpStoreHealthChecks"/>) are registered with <c>WithHealthCheck</c>.
    /// </summary>
    public static AkkaConfigurationBuilder WithTcpStore(this AkkaConfigurationBuilder builder, TcpStoreOptions options)
    {
        var hocon = options.ToHocon();
        if (hocon.Length > 0) builder.AddHocon(hocon, HoconAddMode.Prepend);
        return builder
            .AddHocon(TcpStoreSettings.DefaultConfig(), HoconAddMode.Append)
            .WithActors((system, registry) =>
            {
                var settings = TcpStoreSettings.Create(system);
                var guardian = system.ActorOf(
                    TcpStoreGuardian.Props(settings, StoreProviders.For(system, settings)), GuardianName);
                registry.Register<TcpStoreGuardian>(guardian);
            })
            .WithTcpStoreHealthChecks();
    }
}
