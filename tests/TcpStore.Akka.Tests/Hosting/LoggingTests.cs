using System.Collections.Concurrent;
using System.Net;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TcpStore.Akka.Connections;
using TcpStore.Akka.Hosting;
using TcpStore.TestSupport;
using static TcpStore.TestSupport.Wire;

namespace TcpStore.Akka.Tests.Hosting;

/// <summary>Akka's log routed to ILogger (as the server does it): the levels and what the lines say.</summary>
public sealed class LoggingTests
{
    private sealed class CapturingProvider : ILoggerProvider
    {
        public readonly ConcurrentQueue<(LogLevel Level, string Message)> Lines = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public void Dispose() { }

        private sealed class Logger(CapturingProvider provider) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
                Func<TState, Exception?, string> formatter) =>
                provider.Lines.Enqueue((logLevel, formatter(state, exception)));
        }
    }

    [Fact]
    public async Task Start_connections_and_closes_for_cause_are_logged_at_their_levels()
    {
        var capture = new CapturingProvider();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        builder.Logging.AddProvider(capture);
        builder.Services.AddAkka("logging-test", akka =>
        {
            akka.AddHocon("akka.loglevel = DEBUG\nakka.log-dead-letters = off", HoconAddMode.Prepend);
            akka.ConfigureLoggers(loggers =>
            {
                loggers.ClearLoggers();
                loggers.AddLoggerFactory();
            });
            akka.WithTcpStore(options =>
            {
                options.Host = "127.0.0.1";
                options.Port = 0;
                options.MaxKeyBytes = 8;
            });
        });
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            // Through the guardian, registered synchronously: ActorRegistry.GetAsync of a child can miss a
            // registration racing with it and wait forever (DESIGN.md, departure 7; it hung a CI run here).
            var guardian = host.Services.GetRequiredService<ActorRegistry>().Get<TcpStoreGuardian>();
            var binding = await guardian.Ask<TcpStoreListener.Binding>(TcpStoreListener.GetBinding.Instance, TimeSpan.FromSeconds(10));
            var port = ((IPEndPoint)binding.LocalAddress!).Port;

            string peer;
            await using (var polite = await RawClient.ConnectAsync(port))
            {
                peer = polite.Socket.LocalEndPoint!.ToString()!;
                await polite.SendAsync(Ping(1));
                await polite.ReadUInt32Async();
            }
            await using var rude = await RawClient.ConnectAsync(port);
            var rudePeer = rude.Socket.LocalEndPoint!.ToString()!;
            await rude.SendAsync(Set("a-key-longer-than-eight", "v"));
            Assert.True(await rude.ClosedByServerAsync());

            bool Logged(LogLevel level, params string[] parts) =>
                capture.Lines.Any(l => l.Level == level && parts.All(p => l.Message.Contains(p, StringComparison.Ordinal)));
            Assert.True(await TestStoreServer.EventuallyAsync(() => Task.FromResult(
                Logged(LogLevel.Warning, "Closing connection", rudePeer, "max-key-bytes", "Set") &&
                Logged(LogLevel.Debug, "Connection from " + peer, "closed by the peer")), TimeSpan.FromSeconds(10)),
                string.Join('\n', capture.Lines));
            Assert.True(Logged(LogLevel.Debug, "Connection from " + peer, "accepted"));
            Assert.True(Logged(LogLevel.Information, "TcpStore listening on 127.0.0.1:" + port, "limits: key 8 B"));
            Assert.Single(capture.Lines, l => l.Level == LogLevel.Information && l.Message.Contains("TcpStore listening on", StringComparison.Ordinal));
        }
        finally
        {
            await host.StopAsync();
        }
    }
}
