import java.lang.instrument.Instrumentation;

/**
 * Stand-in for LocalStack's "ddb-local-loader" Java agent.
 *
 * LocalStack starts DynamoDB Local with -javaagent:.../ddb-local-loader-0.1.jar and would download the
 * real agent (which only raises DynamoDB Local's limit of 20 GSIs per table to 100). install.sh builds
 * this jar instead so that nothing has to be downloaded. It deliberately does nothing.
 */
public final class NoopAgent {
    private NoopAgent() {
    }

    public static void premain(String args, Instrumentation instrumentation) {
        // intentionally empty
    }

    public static void premain(String args) {
        // intentionally empty
    }
}
