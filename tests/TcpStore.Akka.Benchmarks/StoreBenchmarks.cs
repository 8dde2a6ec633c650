using System.Text;
using Akka.Actor;
using Akka.Configuration;
using BenchmarkDotNet.Attributes;
using TcpStore.Protocol;
using TcpStore.Akka.Store;
using static TcpStore.Akka.Store.StoreProtocol;

namespace TcpStore.Akka.Benchmarks;

/// <summary>
/// The <see cref="StoreActor"/>'s hot operations through a real <see cref="ActorSystem"/>: every invocation tells
/// the store a burst of <see cref="Execute"/> messages (as many connections would) and waits until stand-in
/// connection actors have received every <see cref="Executed"/> / <see cref="WaitCompleted"/>. Results are per
/// query (<see cref="QueriesPerInvoke"/> queries per invocation), mailbox and dispatcher hops included.
/// </summary>
[Config(typeof(ShortConfig))]
[InvocationCount(256)] // an invocation is 0.3-10 ms, too coarse for the pilot stage on a loaded machine
public class StoreBenchmarks
{
    /// <summary>Queries per invocation (the divisor of the reported time).</summary>
    public const int QueriesPerInvoke = 4096;

    /// <summary>Connections (stand-in actors) in the WAIT benchmarks, one WAIT each.</summary>
    public const int Waiters = 1000;

    private const int DistinctKeys = 1000;

    private ActorSystem? _system;
    private IActorRef _store = ActorRefs.Nobody;
    private readonly Countdown _countdown = new();
    private Execute[] _sets = [];
    private Execute[] _gets = [];
    private Execute[] _adds = [];
    private IActorRef[] _waiters = [];
    private IActorRef _setter = ActorRefs.Nobody;
    private byte[] _value = [];
    private long _round;

    /// <summary>Queries per <see cref="Execute"/>: 1 (a closed-loop client) or 16 (one pipelined read).</summary>
    [Params(1, 16)]
    public int BatchSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var config = ConfigurationFactory.ParseString("""
            akka.loglevel = WARNING
            akka.stdout-loglevel = WARNING
            """);
        _system = ActorSystem.Create("store-bench", config);
        _store = _system.ActorOf(StoreActor.Props(StoreLimits.Default), "store");
        var connection = _system.ActorOf(Props.Create(() => new Connection(_countdown)), "connection");
        _setter = _system.ActorOf(Props.Create(() => new Connection(_countdown)), "setter");
        _waiters = Enumerable.Range(0, Waiters)
            .Select(i => _system.ActorOf(Props.Create(() => new Connection(_countdown)), $"waiter-{i}"))
            .ToArray();

        _value = new byte[64];
        var keys = Enumerable.Range(0, DistinctKeys).Select(i => Encoding.ASCII.GetBytes($"/bench/key/{i:D4}")).ToArray();
        _sets = Batches(connection, i => new Query.Set(keys[i % DistinctKeys], _value));
        _gets = Batches(connection, i => new Query.Get(keys[i % DistinctKeys]));
        _adds = Batches(connection, i => new Query.Add(keys[i % DistinctKeys], 1));

        // GET must find values; ADD needs keys that hold numbers, so it gets keys of its own.
        Run(_sets);
        _adds = Batches(connection, i => new Query.Add(Encoding.ASCII.GetBytes($"/bench/counter/{i % DistinctKeys:D4}"), 1));
    }

    [GlobalCleanup]
    public void Cleanup() => _system?.Terminate().Wait(TimeSpan.FromSeconds(10));

    /// <summary>SET of a 64-byte value over 1,000 existing keys.</summary>
    [Benchmark(OperationsPerInvoke = QueriesPerInvoke)]
    public void Set() => Run(_sets);

    /// <summary>GET of a 64-byte value.</summary>
    [Benchmark(OperationsPerInvoke = QueriesPerInvoke)]
    public void Get() => Run(_gets);

    /// <summary>ADD 1 to one of 1,000 counters.</summary>
    [Benchmark(OperationsPerInvoke = QueriesPerInvoke)]
    public void Add() => Run(_adds);

    /// <summary>
    /// 1,000 connections each WAIT on a key of their own; one connection then SETs the 1,000 keys in one batch of
    /// <see cref="BatchSize"/>-sized Executes and finally deletes them (so the map does not grow across
    /// invocations). Reported per woken WAIT; each includes its registration, its SET, its wake and its DELETE.
    /// </summary>
    [Benchmark(OperationsPerInvoke = Waiters)]
    public void WaitWakeBySets() => WaitWake(multiSet: false);

    /// <summary>The same, woken by one MULTI_SET of the 1,000 keys (the rendezvous "go" pattern).</summary>
    [Benchmark(OperationsPerInvoke = Waiters)]
    public void WaitWakeByMultiSet() => WaitWake(multiSet: true);

    private void WaitWake(bool multiSet)
    {
        var round = ++_round;
        var keys = new byte[Waiters][];
        for (var i = 0; i < Waiters; i++)
            keys[i] = Encoding.ASCII.GetBytes($"/bench/w/{round}/{i}");

        var setBatches = multiSet
            ? [new Execute(_setter, [new Query.MultiSet(keys.Select(k => KeyValuePair.Create(k, _value)).ToArray())])]
            : Batches(_setter, Waiters, i => new Query.Set(keys[i], _value));
        var deleteBatches = Batches(_setter, Waiters, i => new Query.DeleteKey(keys[i]));

        // Executed (WaitPending) per waiter + WaitCompleted per waiter + Executed per setter batch.
        var done = _countdown.Start((2 * Waiters) + setBatches.Length + deleteBatches.Length);
        for (var i = 0; i < Waiters; i++)
            _store.Tell(new Execute(_waiters[i], [new Query.Wait([keys[i]])]));
        foreach (var m in setBatches)
            _store.Tell(m);
        foreach (var m in deleteBatches)
            _store.Tell(m);
        Await(done);
    }

    private void Run(Execute[] batches)
    {
        var done = _countdown.Start(batches.Length);
        foreach (var m in batches)
            _store.Tell(m);
        Await(done);
    }

    private static void Await(Task done)
    {
        if (!done.Wait(TimeSpan.FromSeconds(30)))
            throw new TimeoutException("The store did not answer every Execute within 30 s.");
    }

    private Execute[] Batches(IActorRef connection, Func<int, Query> query) =>
        Batches(connection, QueriesPerInvoke, query);

    private Execute[] Batches(IActorRef connection, int queries, Func<int, Query> query) =>
        Enumerable.Range(0, queries)
            .Chunk(BatchSize)
            .Select(chunk => new Execute(connection, chunk.Select(query).ToArray()))
            .ToArray();

    /// <summary>Counts replies of every stand-in connection; completes when the expected number arrived.</summary>
    private sealed class Countdown
    {
        private int _remaining;
        private TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Start(int expected)
        {
            _done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _remaining, expected);
            return _done.Task;
        }

        public void Signal()
        {
            if (Interlocked.Decrement(ref _remaining) == 0)
                _done.TrySetResult();
        }
    }

    /// <summary>Stands in for a connection actor: counts what the store sends it.</summary>
    private sealed class Connection : ReceiveActor
    {
        public Connection(Countdown countdown)
        {
            Receive<Executed>(m =>
            {
                if (m.Rejection is not null)
                    throw new InvalidOperationException($"The store rejected a query: {m.Rejection}");
                countdown.Signal();
            });
            Receive<WaitCompleted>(_ => countdown.Signal());
        }
    }
}
