using System.Net;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TcpStore.Akka.Connections;
using TcpStore.Akka.Hosting;

namespace TcpStore.Akka.Server;

/// <summary>
/// Waits for the listener's bind and reports it: a log line, and <c>READY &lt;port&gt;</c> on standard output for
/// scripts that start the server on port 0. A failed bind stops the process with exit code 1.
/// </summary>
internal sealed class BindingReporter(
    ActorRegistry registry, IHostApplicationLifetime lifetime, ILogger<BindingReporter> logger) : IHostedService
{
    private static readonly TimeSpan BindTimeout = TimeSpan.FromSeconds(30);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // The guardian is registered synchronously when the actor system starts; its children register later.
        var guardian = registry.Get<TcpStoreGuardian>();
        var binding = await guardian.Ask<TcpStoreListener.Binding>(
            TcpStoreListener.GetBinding.Instance, BindTimeout, cancellationToken);
        if (binding.LocalAddress is IPEndPoint bound)
        {
            logger.LogInformation("TcpStore ready on {Address}", bound);
            Console.Out.WriteLine($"READY {bound.Port}");
            Console.Out.Flush();
            return;
        }

        logger.LogCritical("TcpStore could not bind: {Failure}", binding.Failure);
        Environment.ExitCode = 1;
        lifetime.StopApplication();
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
