using System.Diagnostics;
using System.Net;
using Akka.Actor;
using Akka.Event;
using TcpStore.Akka.Hosting;

namespace TcpStore.Akka.Samples.JobManager;

/// <summary>
/// A cluster manager's job scheduler, cut down to what a TCPStore is for: every job gets a store of its own
/// (its MASTER_ADDR/MASTER_PORT), its ranks meet there, and the store goes away with the job.
/// </summary>
public sealed class JobManager : ReceiveActor
{
    /// <summary>Run a job of <paramref name="WorldSize"/> ranks; answered with <see cref="JobFinished"/>.</summary>
    public sealed record StartJob(int JobId, int WorldSize);

    /// <summary>The job's ranks met at its store, which is removed again.</summary>
    public sealed record JobFinished(int JobId, string Store, EndPoint Address, int Ranks, TimeSpan Elapsed);

    /// <summary>The job could not run: its store was not created, or its ranks did not meet.</summary>
    public sealed record JobFailed(int JobId, string Reason);

    private sealed record StoreReady(StartJob Job, IActorRef Requester, EndPoint Address, Stopwatch Clock);

    private sealed record RanksDone(StartJob Job, IActorRef Requester, EndPoint Address, Stopwatch Clock, Exception? Failure);

    private readonly ILoggingAdapter _log = Context.GetLogger();

    public static Props Props(IActorRef stores) => global::Akka.Actor.Props.Create(() => new JobManager(stores));

    public JobManager(IActorRef stores)
    {
        Receive<StartJob>(job =>
        {
            var requester = Sender;
            var clock = Stopwatch.StartNew();
            // Port 0: the store picks a free port, which the scheduler hands to the job's ranks as MASTER_PORT.
            stores.Ask(new TcpStoreManager.CreateStore(StoreName(job), null), TimeSpan.FromSeconds(10)).PipeTo(Self,
                success: answer => answer switch
                {
                    TcpStoreManager.StoreCreated created => new StoreReady(job, requester, created.Address, clock),
                    TcpStoreManager.StoreNotCreated refused => new RanksDone(job, requester, new IPEndPoint(IPAddress.None, 0), clock,
                        new InvalidOperationException(refused.Reason)),
                    _ => new RanksDone(job, requester, new IPEndPoint(IPAddress.None, 0), clock, new InvalidOperationException($"{answer}")),
                },
                failure: e => new RanksDone(job, requester, new IPEndPoint(IPAddress.None, 0), clock, e));
        });

        Receive<StoreReady>(ready =>
        {
            _log.Info("Job {0}: store {1} on {2}", ready.Job.JobId, StoreName(ready.Job), ready.Address);
            var done = (Exception? failure) => new RanksDone(ready.Job, ready.Requester, ready.Address, ready.Clock, failure);
            Ranks.RendezvousAsync((IPEndPoint)ready.Address, ready.Job.WorldSize).PipeTo(Self, success: () => done(null), failure: done);
        });

        Receive<RanksDone>(done =>
        {
            var name = StoreName(done.Job);
            if (done.Failure is not null)
            {
                done.Requester.Tell(new JobFailed(done.Job.JobId, done.Failure.Message));
                stores.Tell(new TcpStoreManager.RemoveStore(name)); // a job that failed does not keep its store either
                return;
            }

            // The job is over: its store, keys and connections go with it.
            var finished = new JobFinished(done.Job.JobId, name, done.Address, done.Job.WorldSize, done.Clock.Elapsed);
            stores.Ask(new TcpStoreManager.RemoveStore(name), TimeSpan.FromSeconds(10)).PipeTo(done.Requester,
                success: _ => finished, failure: e => new JobFailed(done.Job.JobId, e.Message));
        });
    }

    private static string StoreName(StartJob job) => $"job-{job.JobId}";
}
