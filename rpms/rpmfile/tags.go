package rpmfile

// Header tags of the signature header.
const (
	sigTagDSA         = 267
	sigTagRSA         = 268
	sigTagSHA1        = 269
	sigTagLongSize    = 270
	sigTagLongArchive = 271
	sigTagSHA256      = 273
	sigTagSize        = 1000
	sigTagPGP         = 1002
	sigTagMD5         = 1004
	sigTagGPG         = 1005
	sigTagPayloadSize = 1007
)

// Header tags of the main header.
const (
	tagName              = 1000
	tagVersion           = 1001
	tagRelease           = 1002
	tagEpoch             = 1003
	tagSummary           = 1004
	tagDescription       = 1005
	tagBuildTime         = 1006
	tagBuildHost         = 1007
	tagSize              = 1009
	tagVendor            = 1011
	tagLicense           = 1014
	tagPackager          = 1015
	tagGroup             = 1016
	tagURL               = 1020
	tagArch              = 1022
	tagOldFileNames      = 1027
	tagFileModes         = 1030
	tagFileFlags         = 1037
	tagSourceRPM         = 1044
	tagArchiveSize       = 1046
	tagProvideName       = 1047
	tagRequireFlags      = 1048
	tagRequireName       = 1049
	tagRequireVersion    = 1050
	tagConflictFlags     = 1053
	tagConflictName      = 1054
	tagConflictVersion   = 1055
	tagChangelogTime     = 1080
	tagChangelogName     = 1081
	tagChangelogText     = 1082
	tagObsoleteName      = 1090
	tagProvideFlags      = 1112
	tagProvideVersion    = 1113
	tagObsoleteFlags     = 1114
	tagObsoleteVersion   = 1115
	tagDirIndexes        = 1116
	tagBaseNames         = 1117
	tagDirNames          = 1118
	tagLongSize          = 5009
	tagRecommendName     = 5046
	tagRecommendVersion  = 5047
	tagRecommendFlags    = 5048
	tagSuggestName       = 5049
	tagSuggestVersion    = 5050
	tagSuggestFlags      = 5051
	tagSupplementName    = 5052
	tagSupplementVersion = 5053
	tagSupplementFlags   = 5054
	tagEnhanceName       = 5055
	tagEnhanceVersion    = 5056
	tagEnhanceFlags      = 5057
	tagPayloadDigest     = 5092
	tagPayloadDigestAlgo = 5093
)

// Header data types.
const (
	typeNull        = 0
	typeChar        = 1
	typeInt8        = 2
	typeInt16       = 3
	typeInt32       = 4
	typeInt64       = 5
	typeString      = 6
	typeBin         = 7
	typeStringArray = 8
	typeI18NString  = 9
)

// File flags (RPMTAG_FILEFLAGS).
const fileFlagGhost = 1 << 6

// OpenPGP hash algorithm numbers used by RPMTAG_PAYLOADDIGESTALGO.
const (
	pgpHashMD5    = 1
	pgpHashSHA1   = 2
	pgpHashSHA256 = 8
	pgpHashSHA384 = 9
	pgpHashSHA512 = 10
)
