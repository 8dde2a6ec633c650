using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TcpStore.Akka.Hosting;
using TcpStore.Akka.Samples.JobManager;

// tcpstore-jobmanager-sample [--jobs N] [--world-size W]: runs N jobs at once, each with a TCPStore of its own, and
// prints one line per job. Exit code 0 when every job's ranks met at their own store and the store was removed.
var jobs = Option("--jobs", 3);
var worldSize = Option("--world-size", 4);

var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddAkka("cluster-manager", akka =>
{
    akka.AddHocon("""
        akka.loglevel = WARNING
        tcpstore.host = "127.0.0.1"
        """, HoconAddMode.Prepend);
    // No store at start: the manager creates one per job. (WithTcpStore would add the store named "default".)
    akka.WithTcpStores();
    akka.WithActors((system, registry) =>
        registry.Register<JobManager>(system.ActorOf(JobManager.Props(registry.Get<TcpStoreManager>()), "jobs")));
});

using var host = builder.Build();
await host.StartAsync();
var scheduler = host.Services.GetRequiredService<ActorRegistry>().Get<JobManager>();
var results = await Task.WhenAll(Enumerable.Range(1, jobs).Select(id =>
    scheduler.Ask(new JobManager.StartJob(id, worldSize), TimeSpan.FromSeconds(60))));

var failed = 0;
foreach (var result in results)
{
    switch (result)
    {
        case JobManager.JobFinished job:
            Console.WriteLine($"job {job.JobId}: store {job.Store} on {job.Address}, {job.Ranks} ranks met, removed after {job.Elapsed.TotalMilliseconds:0} ms");
            break;
        case JobManager.JobFailed job:
            Console.WriteLine($"job {job.JobId} failed: {job.Reason}");
            failed++;
            break;
    }
}

var left = await TcpStoreManagerClient.For(host.Services.GetRequiredService<ActorSystem>()).ListStoresAsync();
Console.WriteLine($"stores left: {left.Count}");
await host.StopAsync();
return failed == 0 && left.Count == 0 ? 0 : 1;

int Option(string name, int fallback)
{
    var at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length && int.TryParse(args[at + 1], out var value) ? value : fallback;
}
