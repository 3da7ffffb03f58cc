package el7

import (
	"fmt"
	"slices"
	"strings"
)

// unitSource is where systemd 219's directives were read: the gperf table
// of the unit file parser (and its EXEC/KILL/CGROUP_CONTEXT_CONFIG_ITEMS
// macros), in Red Hat's 219 (man pages: systemd.unit.xml, systemd.service.xml,
// systemd.exec.xml, systemd.kill.xml, systemd.resource-control.xml).
const unitSource = "redhat-plumbers/systemd-rhel7@rhel-7.9:src/core/load-fragment-gperf.gperf.m4"

// unitDirectives are systemd 219's directives of the sections a service
// or timer unit has.
var unitDirectives = map[string][]string{
	"Unit": {"After", "AllowIsolate", "AssertACPower", "AssertArchitecture", "AssertCapability", "AssertDirectoryNotEmpty", "AssertFileIsExecutable", "AssertFileNotEmpty", "AssertFirstBoot", "AssertHost", "AssertKernelCommandLine", "AssertNeedsUpdate", "AssertNull", "AssertPathExists", "AssertPathExistsGlob", "AssertPathIsDirectory", "AssertPathIsMountPoint", "AssertPathIsReadWrite", "AssertPathIsSymbolicLink", "AssertSecurity", "AssertVirtualization", "Before", "BindTo", "BindsTo", "CollectMode", "ConditionACPower", "ConditionArchitecture", "ConditionCapability", "ConditionDirectoryNotEmpty", "ConditionFileIsExecutable", "ConditionFileNotEmpty", "ConditionFirstBoot", "ConditionHost", "ConditionKernelCommandLine", "ConditionNeedsUpdate", "ConditionNull", "ConditionPathExists", "ConditionPathExistsGlob", "ConditionPathIsDirectory", "ConditionPathIsMountPoint", "ConditionPathIsReadWrite", "ConditionPathIsSymbolicLink", "ConditionSecurity", "ConditionVirtualization", "Conflicts", "DefaultDependencies", "Description", "Documentation", "IgnoreOnIsolate", "IgnoreOnSnapshot", "JobTimeoutAction", "JobTimeoutRebootArgument", "JobTimeoutSec", "JoinsNamespaceOf", "OnFailure", "OnFailureIsolate", "OnFailureJobMode", "PartOf", "PropagateReloadFrom", "PropagateReloadTo", "PropagatesReloadTo", "RefuseManualStart", "RefuseManualStop", "ReloadPropagatedFrom", "Requires", "RequiresMountsFor", "RequiresOverridable", "Requisite", "RequisiteOverridable", "SourcePath", "StopWhenUnneeded", "Wants"},
	"Service": slices.Concat(
		[]string{"BusName", "ExecReload", "ExecStart", "ExecStartPost", "ExecStartPre", "ExecStop", "ExecStopPost", "FailureAction", "FileDescriptorStoreMax", "GuessMainPID", "NonBlocking", "NotifyAccess", "PIDFile", "PermissionsStartOnly", "RebootArgument", "RemainAfterExit", "Restart", "RestartForceExitStatus", "RestartPreventExitStatus", "RestartSec", "RootDirectoryStartOnly", "Sockets", "StartLimitAction", "StartLimitBurst", "StartLimitInterval", "SuccessExitStatus", "SysVStartPriority", "TimeoutSec", "TimeoutStartSec", "TimeoutStopSec", "Type", "WatchdogSec"},
		// EXEC_CONTEXT_CONFIG_ITEMS(Service)
		[]string{"AmbientCapabilities", "AppArmorProfile", "CPUAffinity", "CPUSchedulingPolicy", "CPUSchedulingPriority", "CPUSchedulingResetOnFork", "Capabilities", "CapabilityBoundingSet", "Environment", "EnvironmentFile", "Group", "IOSchedulingClass", "IOSchedulingPriority", "IgnoreSIGPIPE", "InaccessibleDirectories", "LimitAS", "LimitCORE", "LimitCPU", "LimitDATA", "LimitFSIZE", "LimitLOCKS", "LimitMEMLOCK", "LimitMSGQUEUE", "LimitNICE", "LimitNOFILE", "LimitNPROC", "LimitRSS", "LimitRTPRIO", "LimitRTTIME", "LimitSIGPENDING", "LimitSTACK", "MountFlags", "Nice", "NoNewPrivileges", "OOMScoreAdjust", "PAMName", "PassEnvironment", "Personality", "PrivateDevices", "PrivateNetwork", "PrivateTmp", "ProtectHome", "ProtectSystem", "ReadOnlyDirectories", "ReadWriteDirectories", "RestrictAddressFamilies", "RootDirectory", "RuntimeDirectory", "RuntimeDirectoryMode", "SELinuxContext", "SecureBits", "SmackProcessLabel", "StandardError", "StandardInput", "StandardOutput", "SupplementaryGroups", "SyslogFacility", "SyslogIdentifier", "SyslogLevel", "SyslogLevelPrefix", "SystemCallArchitectures", "SystemCallErrorNumber", "SystemCallFilter", "TTYPath", "TTYReset", "TTYVHangup", "TTYVTDisallocate", "TimerSlackNSec", "UMask", "User", "UtmpIdentifier", "WorkingDirectory"},
		// CGROUP_CONTEXT_CONFIG_ITEMS(Service)
		[]string{"BlockIOAccounting", "BlockIODeviceWeight", "BlockIOReadBandwidth", "BlockIOWeight", "BlockIOWriteBandwidth", "CPUAccounting", "CPUQuota", "CPUShares", "Delegate", "DeviceAllow", "DevicePolicy", "MemoryAccounting", "MemoryLimit", "Slice", "StartupBlockIOWeight", "StartupCPUShares", "TasksAccounting", "TasksMax"},
		// KILL_CONTEXT_CONFIG_ITEMS(Service)
		[]string{"KillMode", "KillSignal", "SendSIGHUP", "SendSIGKILL"},
	),
	"Install": {"Alias", "Also", "DefaultInstance", "RequiredBy", "WantedBy"},
	// A timer's (Timer.* in the same table): RandomizedDelaySec and
	// RemainAfterElapse came with 229.
	"Timer": {"AccuracySec", "OnActiveSec", "OnBootSec", "OnCalendar", "OnStartupSec", "OnUnitActiveSec", "OnUnitInactiveSec", "Persistent", "Unit", "WakeSystem"},
}

// serviceTypes are 219's Type= values (service_type_table, src/core/service.c;
// man/systemd.service.xml): exec came with 240.
var serviceTypes = []string{"simple", "forking", "oneshot", "dbus", "notify", "idle"}

// specifiers are 219's unit file specifiers (man/systemd.unit.xml, table
// "Specifiers available in unit files").
const specifiers = "nNpPiIfcrRtuUhsmbHv%"

// CheckUnit checks a systemd unit file (a service or a drop-in for one)
// against systemd 219: its sections and directives, Type=, specifiers, and
// each Exec line, whose command goes through Check (absolute path first,
// only the "-" and "@" prefixes). name names the unit in problems.
func CheckUnit(name, text string) []Problem {
	var out []Problem
	add := func(line int, format string, args ...any) {
		out = append(out, Problem{Command: fmt.Sprintf("%s:%d", name, line), Tool: "systemd", Msg: fmt.Sprintf(format, args...)})
	}
	section := ""
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		n := i + 1
		line := strings.TrimSpace(lines[i])
		for strings.HasSuffix(line, `\`) && i+1 < len(lines) {
			i++
			line = strings.TrimSuffix(line, `\`) + " " + strings.TrimSpace(lines[i])
		}
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = line[1 : len(line)-1]
			if _, ok := unitDirectives[section]; !ok {
				add(n, "section [%s] is not one this check knows (Unit, Service, Timer, Install; %s)", section, unitSource)
			}
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			add(n, "%q is neither a section nor a directive", line)
			continue
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if section == "" {
			add(n, "%s= before any section", key)
			continue
		}
		if known, ok := unitDirectives[section]; ok && !slices.Contains(known, key) {
			add(n, "%s= is not a directive of [%s] in systemd 219 (%s)", key, section, unitSource)
			continue
		}
		for j := 0; j+1 < len(value); j++ {
			if value[j] == '%' {
				if !strings.ContainsRune(specifiers, rune(value[j+1])) {
					add(n, "%s=: specifier %%%c is not in systemd 219 (write %%%% for a %%)", key, value[j+1])
				}
				j++
			}
		}
		switch {
		case key == "Type" && !slices.Contains(serviceTypes, value):
			add(n, "Type=%s is not in systemd 219 (one of %s)", value, strings.Join(serviceTypes, ", "))
		case strings.HasPrefix(key, "Exec") && value != "":
			for _, p := range checkExec(value) {
				add(n, "%s=: %s", key, p)
			}
		}
	}
	return out
}

// checkExec checks one Exec line the way systemd 219 reads it.
func checkExec(value string) []string {
	var out []string
	words, err := splitExec(value)
	if err != nil {
		return []string{err.Error()}
	}
	for len(words) > 0 {
		cmd := words
		for j, w := range words {
			if w.lit && w.val == ";" {
				cmd, words = words[:j], words[j+1:]
				break
			}
			if j == len(words)-1 {
				words = nil
			}
		}
		if len(cmd) == 0 {
			continue
		}
		first := cmd[0].val
		for len(first) > 0 && (first[0] == '-' || first[0] == '@') {
			first = first[1:]
		}
		if len(first) > 0 && strings.ContainsRune("+!:", rune(first[0])) {
			out = append(out, fmt.Sprintf("prefix %q is newer than systemd 219, which knows only \"-\" and \"@\"", first[:1]))
			continue
		}
		if !strings.HasPrefix(first, "/") {
			out = append(out, fmt.Sprintf("%q is not an absolute path, which systemd 219 requires of the program (man/systemd.service.xml, ExecStart=)", first))
			continue
		}
		cmd[0].val = first
		c := &checker{top: value}
		c.argv(cmd, nil, 0)
		for _, p := range c.problems {
			out = append(out, p.Error())
		}
	}
	return out
}

// splitExec splits an Exec line into words as systemd does: by blanks,
// with single or double quotes grouping and a backslash escaping the next
// character; a word with $ in it is an environment reference, not literal.
func splitExec(s string) ([]arg, error) {
	var out []arg
	var b strings.Builder
	in, quote, dollar := false, byte(0), false
	flush := func() {
		if in {
			out = append(out, arg{val: b.String(), lit: !dollar, prefix: b.String()})
		}
		b.Reset()
		in, dollar = false, false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
			in = true
		case quote != 0:
			if ch == quote {
				quote = 0
				continue
			}
			b.WriteByte(ch)
		case ch == '\'' || ch == '"':
			quote, in = ch, true
		case ch == ' ' || ch == '\t':
			flush()
		default:
			if ch == '$' && i+1 < len(s) && (s[i+1] == '{' || s[i+1] == '_' || (s[i+1] >= 'A' && s[i+1] <= 'Z') || (s[i+1] >= 'a' && s[i+1] <= 'z')) {
				dollar = true
			}
			b.WriteByte(ch)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	flush()
	return out, nil
}
