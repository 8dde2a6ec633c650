using BenchmarkDotNet.Attributes;
using TcpStore.Protocol;

namespace TcpStore.Akka.Benchmarks;

/// <summary>
/// The reply encoder (<see cref="ReplyEncoder"/>) on a batch of 64 mixed replies, the shape of one pipelined read's
/// answers: into a caller's buffer, and as the one array a connection writes.
/// </summary>
[Config(typeof(ShortConfig))]
public class EncoderBenchmarks
{
    private readonly byte[] _destination = new byte[64 * 1024];
    private List<Reply> _batch = [];

    [GlobalSetup]
    public void Setup()
    {
        var value = new byte[64];
        _batch = [];
        for (var i = 0; i < 64; i++)
        {
            _batch.Add((i % 5) switch
            {
                0 => new Reply.Bytes(value),
                1 => new Reply.Integer(i),
                2 => new Reply.Pong((uint)i),
                3 => Reply.CheckResult.ReadyReply,
                _ => Reply.StopWaiting.Instance,
            });
        }
    }

    [Benchmark]
    public int MixedBatchIntoSpan() => ReplyEncoder.Encode(_batch, _destination);

    [Benchmark]
    public int MixedBatchToArray() => ReplyEncoder.Encode(_batch).Length;
}
