"""A deploy rehearsal offline (issue 14): what `sam deploy` does, against moto.

`sam deploy` packages each function (CodeUri becomes an S3 object), hands the template
to CloudFormation, and CloudFormation's SAM transform (aws-sam-translator) expands it.
Here the same translator expands it, with the SAM CLI's own YAML loader, and the
result is created as a stack in moto's CloudFormation (AWS_ENDPOINT_URL, the test
stack's moto); then what the deployment needs is read back through the services' own
APIs: the streams, the bucket and its policy, the functions and their settings, the
event source mappings, the schedules and the alarms.

What moto cannot say (IAM evaluation, VPC routing, MSK, API Gateway's gateway
responses, quotas) only a real account checks: see the README's deploy section.

usage: rehearse.py TEMPLATE   (run with the SAM CLI's venv, moto at AWS_ENDPOINT_URL)
"""
import io
import json
import os
import sys
import time
import zipfile

import boto3
from samcli.yamlhelper import yaml_parse
from samtranslator.translator.transform import transform

REGION = "us-east-1"
ARTIFACTS = "pinpipe-rehearsal-artifacts"
DEPLOYMENT = "rehearsal01"
STACK = f"pinpipe-{DEPLOYMENT}"

failures = []


def check(what, ok, detail=""):
    print(f"  {'ok  ' if ok else 'FAIL'} {what}{'' if ok else ': ' + str(detail)}")
    if not ok:
        failures.append(what)


def client(name):
    return boto3.client(name, region_name=REGION, endpoint_url=os.environ["AWS_ENDPOINT_URL"])


class MotoManagedPolicies:
    """The AWS managed policies SAM's policy shorthands name, from moto's IAM."""

    def load(self):
        iam = client("iam")
        names = {}
        for page in iam.get_paginator("list_policies").paginate(Scope="AWS"):
            for policy in page["Policies"]:
                names[policy["PolicyName"]] = policy["Arn"]
        return names


def packaged(template):
    """As `sam package`: every function's code is a zip in the artifacts bucket."""
    s3 = client("s3")
    try:
        s3.create_bucket(Bucket=ARTIFACTS)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    body = io.BytesIO()
    with zipfile.ZipFile(body, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\necho rehearsal\n")
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            key = f"{name}.zip"
            s3.put_object(Bucket=ARTIFACTS, Key=key, Body=body.getvalue())
            resource["Properties"]["CodeUri"] = f"s3://{ARTIFACTS}/{key}"
    return template


def condition_values(template, parameters):
    """The template's conditions for these parameters (defaults for the rest)."""
    values = {k: v.get("Default", "") for k, v in template.get("Parameters", {}).items()}
    values.update(parameters)

    def value(node):
        if isinstance(node, dict) and "Ref" in node:
            v = values.get(node["Ref"], node["Ref"])
            return ",".join(v) if isinstance(v, list) else str(v)
        return str(node)

    def evaluate(node):
        (op, args), = node.items()
        if op == "Fn::Equals":
            return value(args[0]) == value(args[1])
        if op == "Fn::Not":
            return not evaluate(args[0])
        if op == "Fn::And":
            return all(evaluate(a) for a in args)
        if op == "Fn::Or":
            return any(evaluate(a) for a in args)
        if op == "Condition":
            return evaluate(template["Conditions"][args])
        raise ValueError(f"condition operator {op}")

    return {name: evaluate(node) for name, node in template.get("Conditions", {}).items()}


def resolved(template, parameters):
    """Fn::If and AWS::NoValue resolved, and resources whose condition is false left
    out, as CloudFormation does: moto's CloudFormation trips on a NoValue inside a
    list (an IAM role's Policies)."""
    conditions = condition_values(template, parameters)
    no_value = object()

    def walk(node):
        if isinstance(node, dict):
            if node == {"Ref": "AWS::NoValue"}:
                return no_value
            if set(node) == {"Fn::If"}:
                name, then, otherwise = node["Fn::If"]
                return walk(then if conditions[name] else otherwise)
            out = {k: walk(v) for k, v in node.items()}
            return {k: v for k, v in out.items() if v is not no_value}
        if isinstance(node, list):
            return [v for v in (walk(x) for x in node) if v is not no_value]
        return node

    template = walk(template)
    template["Resources"] = {
        name: r for name, r in template["Resources"].items() if conditions.get(r.get("Condition"), True)
    }
    for name, r in template["Resources"].items():
        # API Gateway names an imported API after its document's title; moto needs it said.
        if r["Type"] == "AWS::ApiGateway::RestApi" and "Name" not in r["Properties"]:
            r["Properties"]["Name"] = r["Properties"].get("Body", {}).get("info", {}).get("title", name)
    return template


# Created by moto's CloudFormation only in part or not at all: checked in the translated
# template instead (moto does not import an API's OpenAPI body, so its deployment fails).
STATIC_ONLY = {"AWS::ApiGateway::Deployment", "AWS::ApiGateway::Stage"}


def is_msk(resource):
    return resource["Properties"].get("EventSourceArn") == {"Ref": "MskClusterArn"}


def for_moto(translated):
    """The stack moto can create: the translated template without STATIC_ONLY
    resources and what refers to them."""
    template = json.loads(json.dumps(translated))
    gone = {
        name for name, r in template["Resources"].items()
        if r["Type"] in STATIC_ONLY
        # moto's Lambda maps SQS, DynamoDB and Kinesis sources only, not MSK clusters.
        or (r["Type"] == "AWS::Lambda::EventSourceMapping" and is_msk(r))
    }
    while True:
        refers = {
            name for name, r in template["Resources"].items()
            if name not in gone and any(f'"{g}"' in json.dumps(r) for g in gone)
        }
        if not refers:
            break
        gone |= refers
    template["Resources"] = {n: r for n, r in template["Resources"].items() if n not in gone}
    template["Outputs"] = {
        n: o for n, o in template.get("Outputs", {}).items() if not any(f'"{g}' in json.dumps(o) for g in gone)
    }
    return template


def deploy(template_path, parameters):
    with open(template_path) as f:
        template = yaml_parse(f.read())
    translated = resolved(transform(packaged(template), parameters, MotoManagedPolicies()), parameters)
    print(f"translated: {len(template['Resources'])} SAM resources -> {len(translated['Resources'])} CloudFormation resources")
    cfn = client("cloudformation")
    try:
        cfn.delete_stack(StackName=STACK)
    except Exception:
        pass
    cfn.create_stack(
        StackName=STACK,
        TemplateBody=json.dumps(for_moto(translated)),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    for _ in range(120):
        stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
        if not stack["StackStatus"].endswith("IN_PROGRESS"):
            break
        time.sleep(0.5)
    check("stack created", stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason", stack["StackStatus"]))
    resources = {}
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=STACK):
        for r in page["StackResourceSummaries"]:
            resources[r["LogicalResourceId"]] = r
    return translated, resources


def physical(resources, logical):
    r = resources.get(logical)
    return r["PhysicalResourceId"] if r else None


def rehearse(template_path):
    translated, resources = deploy(template_path, {"DeploymentId": DEPLOYMENT})
    declared = translated["Resources"]

    print("streams")
    kinesis = client("kinesis")
    for kind in ("pin", "geo", "user"):
        name = f"streaming-{DEPLOYMENT}-{kind}"
        try:
            summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
            check(f"{name} exists", True)
            check(f"{name} keeps records 7 days", summary["RetentionPeriodHours"] == 168, summary["RetentionPeriodHours"])
        except kinesis.exceptions.ResourceNotFoundException as e:
            check(f"{name} exists", False, e)

    print("lake bucket")
    s3 = client("s3")
    bucket = physical(resources, "LakeBucket")
    check("lake bucket created", bucket is not None and bucket in {b["Name"] for b in s3.list_buckets()["Buckets"]}, bucket)
    if bucket:
        # Not created by moto's CloudFormation: read in the translated template.
        policies = [r["Properties"]["PolicyDocument"] for r in declared.values() if r["Type"] == "AWS::S3::BucketPolicy"]
        denies_plain_http = any(
            st.get("Effect") == "Deny" and "aws:SecureTransport" in json.dumps(st.get("Condition", {}))
            for policy in policies for st in policy["Statement"]
        )
        check("bucket policy denies plain HTTP (template)", denies_plain_http, policies)
        rules = declared["LakeBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
        delta = [r for r in rules if r.get("Prefix") == "delta/" and r.get("Status") == "Enabled"]
        check("deleted Delta files' versions and delete markers expire (template)",
              any(r.get("ExpiredObjectDeleteMarker") is True and r.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays") == {"Ref": "TableVacuumRetentionDays"} for r in delta), delta)
        encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
        check("bucket encrypted", bool(encryption["Rules"]), encryption)

    print("functions")
    lam = client("lambda")
    functions = {}
    for logical, resource in declared.items():
        if resource["Type"] == "AWS::Lambda::Function":
            name = physical(resources, logical)
            try:
                functions[logical] = lam.get_function(FunctionName=name)["Configuration"]
            except Exception as e:  # noqa: BLE001 - reported as a failed check
                check(f"{logical} created", False, e)
    expected = {"IngestFunction", "StreamCleanerFunction", "StreamMetricsFunction", "DailyAnalyticsFunction", "TableMaintenanceFunction"}
    check("the five functions without MSK", expected <= set(functions), sorted(functions))
    check("no batch-sink without MSK", "BatchSinkFunction" not in functions, sorted(functions))
    for logical, config in functions.items():
        env = config.get("Environment", {}).get("Variables", {})
        check(f"{logical}: provided.al2023", config["Runtime"] == "provided.al2023", config["Runtime"])
        # moto drops Architectures: read in the translated template.
        architectures = declared[logical]["Properties"].get("Architectures")
        default = translated["Parameters"]["Architecture"]["Default"]
        check(f"{logical}: arm64 by default (template)", architectures == [{"Ref": "Architecture"}] and default == "arm64", architectures)
        check(f"{logical}: PINPIPE_ID and PINPIPE_LAKE", env.get("PINPIPE_ID") == DEPLOYMENT and env.get("PINPIPE_LAKE") == f"s3://{bucket}", env)
    maintenance = functions.get("TableMaintenanceFunction")
    if maintenance:
        concurrency = lam.get_function_concurrency(FunctionName=maintenance["FunctionName"]).get("ReservedConcurrentExecutions")
        check("table-maintenance runs one at a time", concurrency == 1, concurrency)

    print("event source mappings")
    cleaner = functions.get("StreamCleanerFunction")
    mappings = lam.list_event_source_mappings(FunctionName=cleaner["FunctionName"])["EventSourceMappings"] if cleaner else []
    sources = {m["EventSourceArn"].rsplit("/", 1)[-1] for m in mappings}
    check("stream-cleaner reads the three streams", sources == {f"streaming-{DEPLOYMENT}-{k}" for k in ("pin", "geo", "user")}, sources)
    for logical, resource in declared.items():
        source = json.dumps(resource["Properties"].get("EventSourceArn"))
        streams = [n for n, r in declared.items() if r["Type"] == "AWS::Kinesis::Stream"]
        if resource["Type"] == "AWS::Lambda::EventSourceMapping" and any(f'"{n}"' in source for n in streams):
            p = resource["Properties"]
            check(f"{logical}: retries until landed", p.get("MaximumRetryAttempts") == -1 and p.get("MaximumRecordAgeInSeconds") == -1, p)
            check(f"{logical}: partial batch responses", p.get("FunctionResponseTypes") == ["ReportBatchItemFailures"], p)

    metrics = functions.get("StreamMetricsFunction")
    mappings = lam.list_event_source_mappings(FunctionName=metrics["FunctionName"])["EventSourceMappings"] if metrics else []
    sources = {m["EventSourceArn"].rsplit("/", 1)[-1] for m in mappings}
    check("stream-metrics reads the pin and geo streams", sources == {f"streaming-{DEPLOYMENT}-{k}" for k in ("pin", "geo")}, sources)

    print("metrics table")
    dynamodb = client("dynamodb")
    table = physical(resources, "MetricsTable")
    try:
        described = dynamodb.describe_table(TableName=table)["Table"]
        keys = {k["AttributeName"]: k["KeyType"] for k in described["KeySchema"]}
        check("metrics table keyed pk + sk", keys == {"pk": "HASH", "sk": "RANGE"}, keys)
        check("metrics table on demand", described.get("BillingModeSummary", {}).get("BillingMode") == "PAY_PER_REQUEST", described.get("BillingModeSummary"))
        # moto's CloudFormation does not apply a table's TTL: read in the translated template.
        ttl = declared["MetricsTable"]["Properties"].get("TimeToLiveSpecification", {})
        check("metrics buckets expire (TTL on expires, template)", ttl == {"AttributeName": "expires", "Enabled": True}, ttl)
        env = (metrics or {}).get("Environment", {}).get("Variables", {})
        check("stream-metrics writes that table", env.get("PINPIPE_METRICS_TABLE") == table, env)
    except Exception as e:  # noqa: BLE001 - reported as a failed check
        check("metrics table created", False, e)

    print("schedules")
    schedules = {logical: r["Properties"] for logical, r in declared.items() if r["Type"] == "AWS::Scheduler::Schedule"}
    expressions = sorted(p["ScheduleExpression"] for p in schedules.values())
    check("daily job and maintenance scheduled (template)", any(e.startswith("cron(") for e in expressions) and "rate(15 minutes)" in expressions, expressions)

    print("alarms")
    # Not created by moto's CloudFormation: read in the translated template.
    alarms = [r["Properties"] for r in declared.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    metrics = {a.get("MetricName") for a in alarms} | {
        m["MetricStat"]["Metric"]["MetricName"] for a in alarms for m in a.get("Metrics", []) if "MetricStat" in m
    }
    for metric in ("Errors", "IteratorAge", "ApproximateNumberOfMessagesVisible", "failed", "5XXError", "Latency"):
        check(f"an alarm on {metric} (template)", metric in metrics, sorted(m for m in metrics if m))
    check("every alarm notifies", all(a.get("AlarmActions") for a in alarms), [a.get("AlarmName") for a in alarms if not a.get("AlarmActions")])

    print("queues")
    sqs = client("sqs")
    queue = physical(resources, "FailedBatchesQueue")
    names = {url.rsplit("/", 1)[-1] for url in sqs.list_queues().get("QueueUrls", [])}
    check("on-failure queue for the stream mappings", queue is not None and queue.rsplit("/", 1)[-1] in names, (queue, names))

    print("API (template: moto does not import an API's OpenAPI body)")
    apis = [r["Properties"]["Body"] for r in declared.values() if r["Type"] == "AWS::ApiGateway::RestApi"]
    paths = set(apis[0]["paths"]) if apis else set()
    for path in ("/streams", "/streams/{stream-name}", "/streams/{stream-name}/record", "/streams/{stream-name}/records",
                 "/topics/{topic}"):
        check(f"route {path}", path in paths, sorted(paths))
    check("no catch-all resource ({proxy+}): only the routes' own resources reach the function",
          not any("{" in p and p.rstrip("}").endswith("+") for p in paths), sorted(paths))
    responses = apis[0].get("x-amazon-apigateway-gateway-responses", {}) if apis else {}
    check("unknown routes answer a JSON 404", responses.get("MISSING_AUTHENTICATION_TOKEN", {}).get("statusCode") in ("404", 404), responses.get("MISSING_AUTHENTICATION_TOKEN"))
    check("every gateway-made error is JSON", all("application/json" in r.get("responseTemplates", {}) for r in responses.values()) and {"DEFAULT_4XX", "DEFAULT_5XX"} <= set(responses), sorted(responses))

    body = apis[0] if apis else {"paths": {}}
    document = openapi_document(template_path)
    check_writes_need_their_security("none", body, document)
    documented = {(p, v) for p, ops in document["paths"].items() for v in ops if v != "parameters"}
    routed = {(p, v) for p, ops in body["paths"].items() for v in ops if v != "x-amazon-apigateway-any-method"}
    check("the API routes exactly the OpenAPI document's operations", routed == documented, routed ^ documented)
    check("every route reaches ingest", all(
        "IngestFunction.Arn" in json.dumps(op.get("x-amazon-apigateway-integration"))
        for ops in body["paths"].values() for op in ops.values()
    ))

    client("cloudformation").delete_stack(StackName=STACK)
    rehearse_api_auth(template_path)
    rehearse_athena_engine(template_path)
    rehearse_metrics_fan_out(template_path)
    rehearse_msk(template_path)
    if failures:
        sys.exit(f"rehearsal: {len(failures)} checks failed: {failures}")
    print("rehearsal: every check passed")


def openapi_document(template_path):
    return json.load(open(os.path.join(os.path.dirname(template_path) or ".", "functions/ingest/openapi.json")))


HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
# The security scheme each ApiAuth puts on the routes the document lets it choose for.
SCHEME_OF = {"none": None, "api-key": "api_key", "iam": "sigv4"}


def check_writes_need_their_security(auth, body, document):
    """Derived from the translated API and the function's OpenAPI document, not from a
    list of routes: for every resource and method API Gateway would take (the method's
    own operation, else the resource's ANY), what the function does with it — the
    function takes a route only through that route's own resource (ingest/routes.rs),
    so a resource reaches exactly the document's operation of the same path and method.
    Every write it reaches (a documented operation other than a GET) must carry the
    security the document requires, as ApiAuth chooses among the document's options:
    [{}] (open) only with ApiAuth=none."""
    reaching = []
    for path, ops in body["paths"].items():
        for verb in HTTP_METHODS:
            op = ops.get(verb) or ops.get("x-amazon-apigateway-any-method")
            if op is None:
                continue
            documented = document["paths"].get(path, {}).get(verb)
            if documented is None or verb == "get":
                continue  # the function answers a JSON 404/405, or reads
            options = [next(iter(o), None) for o in documented.get("security", [{}])]
            wanted = SCHEME_OF[auth] if SCHEME_OF[auth] in options or (auth == "none" and None in options) else None
            if wanted is None and None not in options:
                wanted = options[0]
            has = [next(iter(o)) for o in (op.get("security") or body.get("security") or [])]
            reaching.append((path, verb.upper(), wanted, has))
    check(f"ApiAuth={auth}: every write the API reaches is documented and secured as documented",
          reaching and all((has == [wanted]) if wanted else not has for _, _, wanted, has in reaching),
          [r for r in reaching if not ((r[3] == [r[2]]) if r[2] else not r[3])])
    writes = {(p, v.upper()) for p, ops in document["paths"].items() for v in ops if v in HTTP_METHODS and v != "get"}
    check(f"ApiAuth={auth}: every documented write is deployed", writes <= {(p, v) for p, v, _, _ in reaching},
          writes - {(p, v) for p, v, _, _ in reaching})
    return reaching


def rehearse_api_auth(template_path):
    """ApiAuth=api-key and iam, as CloudFormation resolves them (translated only: moto
    imports no API body)."""
    with open(template_path) as f:
        template = yaml_parse(f.read())
    document = openapi_document(template_path)
    for auth in ("api-key", "iam"):
        print(f"with ApiAuth={auth}")
        parameters = {"DeploymentId": DEPLOYMENT, "ApiAuth": auth}
        declared = resolved(transform(packaged(json.loads(json.dumps(template))), parameters, MotoManagedPolicies()), parameters)["Resources"]
        body = next(r["Properties"]["Body"] for r in declared.values() if r["Type"] == "AWS::ApiGateway::RestApi")
        reaching = check_writes_need_their_security(auth, body, document)
        record = [r for r in reaching if r[2] == SCHEME_OF[auth]]
        check(f"ApiAuth={auth}: the record routes need {SCHEME_OF[auth]}", len(record) >= 3, reaching)
        check(f"ApiAuth={auth}: reading routes stay open", "security" not in body["paths"]["/streams"]["get"], body["paths"]["/streams"])
        types = {r["Type"] for r in declared.values()}
        plan = {"AWS::ApiGateway::ApiKey", "AWS::ApiGateway::UsagePlan", "AWS::ApiGateway::UsagePlanKey"}
        check(f"ApiAuth={auth}: usage plan and key {'declared' if auth == 'api-key' else 'absent'}",
              (plan <= types) if auth == "api-key" else not (plan & types), sorted(plan & types))


def rehearse_athena_engine(template_path):
    """The daily job's engine, as CloudFormation resolves it (translated only: moto's
    CloudFormation makes no Glue or Athena resources): polars unless both EnableAthena
    and AnalyticsEngine=athena, and the Athena rights only then."""
    with open(template_path) as f:
        template = yaml_parse(f.read())
    for enable, engine in (("false", "polars"), ("false", "athena"), ("true", "polars"), ("true", "athena")):
        parameters = {"DeploymentId": DEPLOYMENT, "EnableAthena": enable, "AnalyticsEngine": engine}
        declared = resolved(transform(packaged(json.loads(json.dumps(template))), parameters, MotoManagedPolicies()), parameters)["Resources"]
        on_athena = enable == "true" and engine == "athena"
        variables = declared["DailyAnalyticsFunction"]["Properties"]["Environment"]["Variables"]
        expected = "athena" if on_athena else "polars"
        check(f"EnableAthena={enable} AnalyticsEngine={engine}: the daily job answers with {expected}",
              variables.get("PINPIPE_ANALYTICS_ENGINE") == expected, variables)
        role = json.dumps(declared["DailyAnalyticsFunctionRole"]["Properties"])
        check(f"EnableAthena={enable} AnalyticsEngine={engine}: Athena rights {'granted' if on_athena else 'absent'}",
              ("athena:StartQueryExecution" in role) == on_athena and ("glue:GetTable" in role) == on_athena, role[:200])
        named = sorted(n for n, r in declared.items() if r["Type"] == "AWS::Athena::NamedQuery")
        check(f"EnableAthena={enable}: {9 if enable == 'true' else 0} named queries", len(named) == (9 if enable == "true" else 0), named)


def rehearse_metrics_fan_out(template_path):
    """MetricsEnhancedFanOut, as CloudFormation resolves it (translated only): the
    metrics mappings read through their own consumers, which the function may
    subscribe to; the stream cleaner's mappings never do."""
    with open(template_path) as f:
        template = yaml_parse(f.read())
    for fan_out in ("false", "true"):
        parameters = {"DeploymentId": DEPLOYMENT, "MetricsEnhancedFanOut": fan_out}
        declared = resolved(transform(packaged(json.loads(json.dumps(template))), parameters, MotoManagedPolicies()), parameters)["Resources"]
        consumers = sorted(n for n, r in declared.items() if r["Type"] == "AWS::Kinesis::StreamConsumer")
        check(f"MetricsEnhancedFanOut={fan_out}: consumers {consumers}", consumers == (["GeoMetricsConsumer", "PinMetricsConsumer"] if fan_out == "true" else []), consumers)
        mappings = {r["Properties"]["FunctionName"]["Ref"]: [] for r in declared.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"}
        for r in declared.values():
            if r["Type"] == "AWS::Lambda::EventSourceMapping":
                mappings[r["Properties"]["FunctionName"]["Ref"]].append(json.dumps(r["Properties"]["EventSourceArn"]))
        metrics = mappings.get("StreamMetricsFunction", [])
        check(f"MetricsEnhancedFanOut={fan_out}: stream-metrics reads {'its consumers' if fan_out == 'true' else 'the streams'}",
              len(metrics) == 2 and all(("Consumer" in arn) == (fan_out == "true") for arn in metrics), metrics)
        check(f"MetricsEnhancedFanOut={fan_out}: the stream cleaner reads the streams",
              all("Consumer" not in arn for arn in mappings.get("StreamCleanerFunction", ["none"])), mappings.get("StreamCleanerFunction"))
        role = json.dumps(declared["StreamMetricsFunctionRole"]["Properties"])
        check(f"MetricsEnhancedFanOut={fan_out}: SubscribeToShard {'granted' if fan_out == 'true' else 'only by the managed policy'}",
              ("DescribeStreamConsumer" in role) == (fan_out == "true"), role[:200])


def rehearse_msk(template_path):
    """The MSK half: a VPC with subnets and a security group (made in moto's EC2 first,
    as the account would have them), the cluster named by ARN."""
    print("with the MSK half")
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{i}.0/24")["Subnet"]["SubnetId"] for i in (1, 2)]
    group = ec2.create_security_group(GroupName="pinpipe-rehearsal", Description="rehearsal", VpcId=vpc)["GroupId"]
    cluster = "arn:aws:kafka:us-east-1:123456789012:cluster/pinpipe/0f0e0d0c-0b0a-0908-0706-050403020100-1"
    translated, resources = deploy(template_path, {
        "DeploymentId": DEPLOYMENT, "MskClusterArn": cluster, "MskSubnetIds": ",".join(subnets),
        "MskSecurityGroupIds": group, "MskVpcId": vpc,
    })
    declared = translated["Resources"]
    lam = client("lambda")
    configs = {}
    for logical in ("IngestFunction", "BatchSinkFunction"):
        try:
            configs[logical] = lam.get_function(FunctionName=physical(resources, logical))["Configuration"]
        except Exception as e:  # noqa: BLE001 - reported as a failed check
            check(f"{logical} created", False, e)
    if "IngestFunction" in configs:
        vpc_config = configs["IngestFunction"].get("VpcConfig", {})
        check("ingest in the MSK subnets", sorted(vpc_config.get("SubnetIds", [])) == sorted(subnets), vpc_config)
    if "BatchSinkFunction" in configs:
        vpc_config = configs["BatchSinkFunction"].get("VpcConfig") or {}
        check("batch-sink outside the VPC", not vpc_config.get("SubnetIds"), vpc_config)
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"]
    services = sorted(e["ServiceName"] for e in endpoints)
    check("VPC endpoints for Kinesis and the MSK API", any(s.endswith(".kinesis-streams") for s in services)
          and any(s.endswith(".kafka") for s in services), services)
    msk = [r["Properties"] for r in declared.values()
           if r["Type"] == "AWS::Lambda::EventSourceMapping" and is_msk(r)]
    topics = sorted(t["Fn::Sub"].replace("${DeploymentId}", DEPLOYMENT) for m in msk for t in m.get("Topics", []))
    check("batch-sink reads the three topics (template)", topics == sorted(f"{DEPLOYMENT}.{k}" for k in ("geo", "pin", "user")), topics)
    client("cloudformation").delete_stack(StackName=STACK)


if __name__ == "__main__":
    rehearse(sys.argv[1] if len(sys.argv) > 1 else "template.yaml")
