using Akka.Actor;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TcpStore.Akka.Configuration;

namespace TcpStore.Akka.Admin;

/// <summary>Generic-host wiring of the admin endpoint.</summary>
public static class AdminHostingExtensions
{
    /// <summary>
    /// Adds the admin endpoint to a host that runs <c>AddAkka(... WithTcpStore(...))</c>. It starts only when
    /// <c>tcpstore.admin.enabled</c> is on (the server's <c>--admin-port</c> sets it); <c>/healthz</c> runs the
    /// host's health checks (this also calls <c>AddHealthChecks()</c>, which WithTcpStore's checks need).
    /// <paramref name="started"/> is called with the running endpoint (the server prints its port).
    /// </summary>
    public static IServiceCollection AddTcpStoreAdmin(this IServiceCollection services, Action<AdminEndpoint>? started = null)
    {
        services.AddHealthChecks();
        services.AddHostedService(provider => new AdminHostedService(provider, started));
        return services;
    }

    private sealed class AdminHostedService(IServiceProvider provider, Action<AdminEndpoint>? started) : IHostedService
    {
        private AdminEndpoint? _endpoint;

        public async Task StartAsync(CancellationToken cancellationToken)
        {
            var system = provider.GetRequiredService<ActorSystem>();
            var settings = TcpStoreSettings.Create(system).Admin;
            if (!settings.Enabled) return;
            var logger = provider.GetRequiredService<ILogger<AdminEndpoint>>();
            var health = provider.GetRequiredService<HealthCheckService>();
            _endpoint = await AdminEndpoint.StartAsync(
                system, settings, ct => health.CheckHealthAsync(ct), provider.GetRequiredService<ILoggerFactory>(), cancellationToken);
            logger.LogInformation("TcpStore admin endpoint on {Address} (/, /status, /metrics, /healthz)", _endpoint.BaseAddress);
            started?.Invoke(_endpoint);
        }

        public async Task StopAsync(CancellationToken cancellationToken)
        {
            if (_endpoint is not null) await _endpoint.DisposeAsync();
        }
    }
}
